using System.Security.Cryptography;
using System.Text;

namespace PixelPing.Flushing.Redis;

/// <summary>
/// The Lua script that stores one part of a batch, run with <c>EVALSHA</c>. A script runs atomically, but a command
/// that fails inside it does not undo the ones before, so it first checks everything that could make a write fail —
/// the type of each hash and every value it will add to — and writes only when all are sound; the ledger key is set
/// last. Keys and counts are read from ARGV in a loop: Lua's <c>unpack</c> of a long ARGV fails past its stack limit
/// (about 8,000 values).
/// </summary>
internal static class RedisScript
{
    /// <summary>What the script answers when it stored its part.</summary>
    public const long Stored = 1;

    /// <summary>What the script answers when the part's ledger key was already set: nothing was written.</summary>
    public const long AlreadyStored = 0;

    // KEYS: the totals hash, the day's hash, the part's ledger key. ARGV: the ledger's lifetime in seconds, then
    // key, count pairs. Answers 1 (stored), 0 (stored before), or an array saying why nothing was written:
    // {'WRONGTYPE', k, type} when KEYS[k] is not a hash, {'NOTINTEGER', k, i} when KEYS[k]'s field ARGV[i] holds a
    // value that HINCRBY refuses or that could overflow (counts are added to values under 10^18 only).
    public static ReadOnlySpan<byte> Source => """
        if redis.call('EXISTS', KEYS[3]) == 1 then
          return 0
        end
        for k = 1, 2 do
          local t = redis.call('TYPE', KEYS[k])['ok']
          if t ~= 'none' then
            if t ~= 'hash' then
              return {'WRONGTYPE', k, t}
            end
            for i = 2, #ARGV, 2 do
              local v = redis.call('HGET', KEYS[k], ARGV[i])
              if v and not (v == '0' or (#v <= 18 and string.find(v, '^%-?[1-9]%d*$'))) then
                return {'NOTINTEGER', k, i}
              end
            end
          end
        end
        for i = 2, #ARGV, 2 do
          redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
          redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1])
        end
        redis.call('SET', KEYS[3], '1', 'EX', ARGV[1])
        return 1
        """u8;

    /// <summary>The script's SHA-1 in lower-case hex, as <c>EVALSHA</c> names it and <c>SCRIPT LOAD</c> answers.</summary>
    public static byte[] Sha1Hex { get; } = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA1.HashData(Source)));
}
