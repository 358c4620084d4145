import Foundation
import LunarRESP

/// `user` directives of the configuration file and the ACL file (`aclfile`, ACL LOAD / ACL SAVE),
/// with Redis 7.0's checks and error wordings.
extension ACL {
    /// A new user as SETUSER, the config file and the ACL file create it: off, no permissions
    /// (every channel when acl-pubsub-default is allchannels).
    func newUser(_ name: String) -> ACLUser {
        let u = ACLUser(name: name, words: words)
        if newUserChannelsAll { u.root.allChannels = true }
        return u
    }

    /// The rules as Redis applies them one by one: a selector written over several arguments
    /// ("(~x" "+get)") becomes one. On an unclosed "(" the index of that argument is returned instead.
    static func mergeSelectors(_ rules: [Bytes]) -> Result<[Bytes], UnmatchedSelector> {
        var out: [Bytes] = []
        var i = 0
        while i < rules.count {
            let r = rules[i].raw
            if r.first == UInt8(ascii: "(") && !(r.count > 1 && r.last == UInt8(ascii: ")")) {
                var text = r
                var j = i + 1
                while true {
                    guard j < rules.count else { return .failure(UnmatchedSelector(index: i)) }
                    text += [UInt8(ascii: " ")] + rules[j].raw
                    if rules[j].raw.last == UInt8(ascii: ")") { break }
                    j += 1
                }
                out.append(Bytes(text))
                i = j + 1
            } else {
                out.append(rules[i])
                i += 1
            }
        }
        return .success(out)
    }

    struct UnmatchedSelector: Error { var index: Int }

    /// A `user name rules…` line of the configuration file checked as Redis checks it while reading
    /// the file: nil when valid, else the message after the line. Unknown commands pass here (Redis
    /// leaves them to the load that follows). `args` is the whole line, "user" first.
    func checkUserDirective(_ args: [Bytes]) -> String? {
        // Redis names args[i] where i counts the merged rules: it shows an earlier word of the line.
        func at(_ i: Int) -> String { args[min(i, args.count - 1)].string }
        switch Self.mergeSelectors(Array(args.dropFirst(2))) {
        case let .failure(e):
            return "Error in user declaration '\(at(e.index))': \(RuleError.unknownCommand)"
        case let .success(rules):
            let fake = newUser("")
            for (j, r) in rules.enumerated() {
                do { try apply([r], to: fake) } catch let e as RuleError where e.reason != RuleError.unknownCommand {
                    return "Error in user declaration '\(at(j))': \(e.reason.isEmpty ? e.message : e.reason)"
                } catch {}
            }
            return nil
        }
    }

    /// Creates the users of the configuration file's `user` directives (start-up). Returns Redis's
    /// log message for the first rule that fails.
    func loadConfiguredUsers(_ directives: [[Bytes]]) -> String? {
        for args in directives {
            let name = args[1].string
            if args[1].raw.contains(where: Self.isSpace) { return "Spaces not allowed in ACL usernames" }
            let u: ACLUser
            if let existing = users[name] {
                u = existing.copy()
                _ = try? apply([Bytes("reset")], to: u)
            } else {
                u = newUser(name)
            }
            guard case let .success(rules) = Self.mergeSelectors(Array(args.dropFirst(2))) else {
                return "Error loading ACL rule for the user named '\(name)': Unmatched parenthesis"
            }
            for r in rules {
                do { try apply([r], to: u) } catch let e as RuleError {
                    return "Error loading ACL rule '\(r.string)' for the user named '\(name)': \(e.reason.isEmpty ? e.message : e.reason)"
                } catch {}
            }
            if let existing = users[name] { existing.adopt(u) } else { users[name] = u }
        }
        return nil
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 0 || c == 32 || (c >= 9 && c <= 13) }

    /// Reads an ACL file into a new set of users, or returns Redis's one-line description of every
    /// problem found (then nothing changes). `shownName` is the path as configured.
    func readFile(_ path: String, shownName: String) -> Result<[String: ACLUser], ACLFileError> {
        guard let f = fopen(path, "r") else {
            return .failure(ACLFileError(text: "Error loading ACLs, opening file '\(path)': \(String(cString: strerror(errno)))"))
        }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            data += buf[0..<n]
        }
        fclose(f)
        var loaded: [String: ACLUser] = [:]
        var errors = ""
        let trimSet: Set<UInt8> = [32, 9, 13, 10]
        for (i, rawLine) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let n = i + 1
            var line = ArraySlice(rawLine)
            while let c = line.first, trimSet.contains(c) { line = line.dropFirst() }
            while let c = line.last, trimSet.contains(c) { line = line.dropLast() }
            if line.isEmpty { continue }
            // Words are separated by single spaces, as Redis splits them (no quoting in ACL files).
            let argv = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map { Bytes(Array($0)) }
            guard argv[0].raw == Array("user".utf8), argv.count >= 2 else {
                errors += "\(shownName):\(n) should start with user keyword followed by the username. "
                continue
            }
            if argv[1].raw.contains(where: Self.isSpace) {
                errors += "'\(shownName):\(n): username '\(argv[1].string)' contains invalid characters. "
                continue
            }
            let name = argv[1].string
            if loaded[name] != nil {
                errors += "WARNING: Duplicate user '\(name)' found on line \(n). "
                continue
            }
            let u = newUser(name)
            loaded[name] = u
            guard case let .success(rules) = Self.mergeSelectors(Array(argv.dropFirst(2))) else {
                errors += "\(shownName):\(n): Unmatched parenthesis in selector definition."
                continue
            }
            var reported = false
            for r in rules {
                var rule = r.raw[...]
                while let c = rule.first, c == 9 || c == 13 || c == 10 { rule = rule.dropFirst() }
                while let c = rule.last, c == 9 || c == 13 || c == 10 { rule = rule.dropLast() }
                if rule.isEmpty { continue }
                do { try apply([Bytes(Array(rule))], to: u) } catch let e as RuleError {
                    let reason = e.reason.isEmpty ? e.message : e.reason
                    if reason == RuleError.unknownCommand {
                        errors += "\(shownName):\(n): Error in applying operation '\(Bytes(Array(rule)).string)': \(reason). "
                    } else if !reported {
                        errors += "\(shownName):\(n): \(reason). "
                        reported = true
                    }
                } catch {}
            }
        }
        if !errors.isEmpty {
            return .failure(ACLFileError(text: errors + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"))
        }
        return .success(loaded)
    }

    struct ACLFileError: Error { var text: String }

    /// User names in byte order (Redis keeps users in a radix tree).
    var sortedNames: [String] { users.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } }

    /// Every user as ACL LIST describes it, by name: the lines of ACL SAVE and CONFIG REWRITE.
    func userLines() -> [Bytes] {
        prepare()
        return sortedNames.map { Bytes(Array(describe(users[$0]!).map(\.raw).joined(separator: [UInt8(ascii: " ")]))) }
    }

    /// ACL SAVE: every user as ACL LIST shows it, one a line, written to a temporary file renamed over
    /// `path`. False when the file could not be written.
    func save(to path: String) -> Bool {
        prepare()
        let text = userLines().flatMap { $0.raw + [UInt8(ascii: "\n")] }
        let tmp = path + ".tmp-\(getpid())-\(Int64(Date().timeIntervalSince1970 * 1000))"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text)) else { return false }
        if rename(tmp, path) != 0 {
            unlink(tmp)
            return false
        }
        return true
    }
}

extension Engine {
    /// The `aclfile` path, relative paths taken from `dir` (Redis changes into `dir` while reading its config).
    var aclFilePath: String? {
        let p = config.string("aclfile")
        if p.isEmpty { return nil }
        let dir = config.string("dir")
        return p.hasPrefix("/") || dir.isEmpty || dir == "." ? p : dir + "/" + p
    }

    /// ACL LOAD (and start-up): replaces every user with the file's, or returns the errors. Clients
    /// of the replaced users are disconnected (the current one after its reply); the default user
    /// keeps its connections and takes the file's rules (on, nopass, everything when not in the file).
    public func loadACLFile(current: Client?) -> String? {
        guard let path = aclFilePath else { return nil }
        acl.prepare()
        switch acl.readFile(path, shownName: config.string("aclfile")) {
        case let .failure(e):
            return e.text
        case var .success(loaded):
            let fresh = loaded.removeValue(forKey: "default") ?? {
                let u = ACLUser(name: "default", words: acl.words)
                _ = try? acl.apply(["on", "nopass", "~*", "&*", "+@all"].map { Bytes($0) }, to: u)
                return u
            }()
            acl.defaultUser.adopt(fresh)
            let old = acl.users
            loaded["default"] = acl.defaultUser
            acl.users = loaded
            for (name, u) in old where name != "default" {
                disconnect(user: u, current: current)
            }
            aclChanged()
            return nil
        }
    }

    /// Start-up: the config file's users, then the ACL file. Returns the message Redis logs before
    /// exiting, or nil. (Config-file lines with bad rules were refused while reading the file.)
    public func loadUsersAtStartup(_ directives: [[Bytes]]) -> String? {
        acl.prepare()
        if aclFilePath != nil && !directives.isEmpty {
            return "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both."
        }
        if let err = acl.loadConfiguredUsers(directives) {
            return err + "\nCritical error while loading ACLs. Exiting."
        }
        aclChanged()
        if aclFilePath != nil, let errors = loadACLFile(current: nil) {
            return "Aborting Redis startup because of ACL errors: \(errors)"
        }
        return nil
    }

    /// A configuration file `user` line checked while reading the file: nil, or the error to show.
    public func checkUserDirective(_ args: [Bytes]) -> String? {
        acl.prepare()
        return acl.checkUserDirective(args)
    }
}
