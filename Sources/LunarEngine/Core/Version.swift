/// Lunar's own version, and the Redis version it is compatible with (what clients check).
public enum LunarVersion {
    public static let string = "0.1.0"
    public static let redisCompatible = "7.0.15"
    public static let redisCompatibleNum = 0x07000f
}
