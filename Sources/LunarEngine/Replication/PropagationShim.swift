// TEMPORARY stand-in for main's Core/Propagation.swift (being added by the lead); deleted when it lands.
import LunarRESP

public struct PropagatedOp {
    public var db: Int
    public var argv: [Bytes]
    public init(db: Int, argv: [Bytes]) { self.db = db; self.argv = argv }
}

public protocol PropagationSink: AnyObject {
    func propagate(_ ops: [PropagatedOp])
}

final class PropagationShimBox { var sinks: [PropagationSink] = [] }

extension Engine {
    public var propagationSinks: [PropagationSink] {
        get { (extensions["shim.sinks"] as? PropagationShimBox)?.sinks ?? [] }
        set {
            let b = (extensions["shim.sinks"] as? PropagationShimBox) ?? PropagationShimBox()
            b.sinks = newValue
            extensions["shim.sinks"] = b
        }
    }
}
