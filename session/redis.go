// Redis backend: sessions in Redis, so that several app instances share their users' sessions.

package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RedisKeyPrefix starts the Redis key of every session: the key is the
// prefix followed by the session id.
const RedisKeyPrefix = "ms-identity-go-webapp:session:"

// RedisIndexPrefix starts the Redis key of every index (see Backend.Index):
// a sorted set of session ids, each scored with its expiry (Unix seconds).
const RedisIndexPrefix = "ms-identity-go-webapp:index:"

// Timeouts of the Redis client. They are short on purpose: a Redis outage
// must answer the user with an error page within a couple of seconds, not
// hold every request until the server's write timeout.
const (
	redisDialTimeout = time.Second
	redisIOTimeout   = time.Second
	// redisOpTimeout bounds one command, its retry included.
	redisOpTimeout = 2 * time.Second
)

// RedisBackend keeps each record under RedisKeyPrefix+id, expiring with its
// session (SET ... EXAT), so that Redis cleans up after itself. Records are
// sealed before they get here: Redis never holds a token in the clear.
type RedisBackend struct {
	client *redis.Client
}

// NewRedisBackend connects to the Redis server at redisURL (redis://,
// rediss:// or unix://) and checks that it answers PING. The error names
// REDIS_URL, without its password.
func NewRedisBackend(ctx context.Context, redisURL string) (*RedisBackend, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL %q is not a Redis URL such as redis://127.0.0.1:6379/0: %v", redactURL(redisURL), err)
	}
	opts.DialTimeout = redisDialTimeout
	opts.ReadTimeout = redisIOTimeout
	opts.WriteTimeout = redisIOTimeout
	opts.PoolTimeout = redisIOTimeout
	opts.ContextTimeoutEnabled = true
	// One retry covers a pooled connection that a Redis restart closed;
	// more would only make an outage slower to report.
	opts.MaxRetries = 1
	opts.DialerRetries = 1
	// Nothing but GET, SET, DEL, EXISTS, the index's sorted sets and two scripts: no client-side tracking, no
	// maintenance notifications, no CLIENT SETINFO on every new connection.
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	client := redis.NewClient(opts)

	pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("SESSION_TYPE=redis: cannot reach Redis at REDIS_URL %s: %v", redactURL(redisURL), err)
	}
	return &RedisBackend{client: client}, nil
}

// redactURL hides the password of a Redis URL, for error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

func key(id string) string { return RedisKeyPrefix + id }

func indexKey(key string) string { return RedisIndexPrefix + indexHash(key) }

func redisError(op string, err error) error {
	return fmt.Errorf("%w: %s a session in Redis: %w", ErrUnavailable, op, err)
}

func (b *RedisBackend) Find(ctx context.Context, id string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	data, err := b.client.Get(ctx, key(id)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, ErrNotFound
	case err != nil:
		return nil, redisError("reading", err)
	}
	return data, nil
}

func (b *RedisBackend) Save(ctx context.Context, id string, record []byte, expiry time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	var err error
	if time.Until(expiry) <= 0 {
		// Redis refuses an expiry in the past; such a record is gone.
		err = b.client.Del(ctx, key(id)).Err()
	} else {
		err = b.client.SetArgs(ctx, key(id), record, redis.SetArgs{ExpireAt: expiry}).Err()
	}
	if err != nil {
		return redisError("writing", err)
	}
	return nil
}

func (b *RedisBackend) Delete(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	if err := b.client.Del(ctx, key(id)).Err(); err != nil {
		return redisError("deleting", err)
	}
	return nil
}

// updateScript is Update in one step, so that no DEL can land between the
// check and the write: it writes nothing when the record is gone (0), and
// otherwise files the id under the index key when one is given (KEYS[2], as
// indexScript does) and replaces the record (1). A record whose expiry has
// passed is deleted, as Save does, since SET refuses such an expiry.
//
// KEYS: the record, then the index key if any. ARGV: the record, its
// expiry and the time now (Unix seconds), and the session id.
var updateScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
	return 0
end
if #KEYS > 1 then
	redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
	redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
	local newest = redis.call('ZREVRANGE', KEYS[2], 0, 0, 'WITHSCORES')
	redis.call('EXPIREAT', KEYS[2], newest[2])
end
if tonumber(ARGV[2]) <= tonumber(ARGV[3]) then
	redis.call('DEL', KEYS[1])
else
	redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2])
end
return 1
`)

func (b *RedisBackend) Update(ctx context.Context, id string, record []byte, expiry time.Time, index string) (bool, error) {
	if !validID(id) {
		return false, fmt.Errorf("session: invalid id")
	}
	ctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	keys := []string{key(id)}
	if index != "" {
		keys = append(keys, indexKey(index))
	}
	n, err := updateScript.Run(ctx, b.client, keys, record, expiry.Unix(), time.Now().Unix(), id).Int()
	if err != nil {
		return false, redisError("writing", err)
	}
	return n == 1, nil
}

// Ping asks Redis for PONG within the backend's timeout.
func (b *RedisBackend) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	if err := b.client.Ping(ctx).Err(); err != nil {
		return redisError("reaching Redis for", err)
	}
	return nil
}

// Close closes the connection pool.
func (b *RedisBackend) Close() error { return b.client.Close() }

// indexScript adds an entry to an index in one step: it drops the entries
// that have expired, adds (or re-scores) this one, and lets the whole key
// expire with its newest entry, so that Redis removes an index that only
// expired sessions are left in. A script rather than EXPIREAT ... GT, which
// needs Redis 7 and ignores a key without an expiry yet.
var indexScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local newest = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
redis.call('EXPIREAT', KEYS[1], newest[2])
return 1
`)

func (b *RedisBackend) Index(ctx context.Context, key, id string, expiry time.Time) error {
	if !validID(id) {
		return fmt.Errorf("session: invalid id")
	}
	ctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	err := indexScript.Run(ctx, b.client, []string{indexKey(key)}, id, expiry.Unix(), time.Now().Unix()).Err()
	if err != nil {
		return redisError("indexing", err)
	}
	return nil
}

func (b *RedisBackend) Indexed(ctx context.Context, key string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	// An entry is live while now < expiry, as a record is (SET ... EXAT).
	ids, err := b.client.ZRangeByScore(ctx, indexKey(key), &redis.ZRangeBy{
		Min: fmt.Sprintf("(%d", time.Now().Unix()), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, redisError("looking up the index of", err)
	}
	return ids, nil
}

// Unindex removes the entry; Redis deletes a sorted set with its last
// member.
func (b *RedisBackend) Unindex(ctx context.Context, key, id string) error {
	ctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	if err := b.client.ZRem(ctx, indexKey(key), id).Err(); err != nil {
		return redisError("unindexing", err)
	}
	return nil
}

// NewRedisBackendFromClient returns a backend over a client the caller made
// and closes: tests use it to read what the app stored.
func NewRedisBackendFromClient(client *redis.Client) *RedisBackend {
	return &RedisBackend{client: client}
}

// SetRedisLogger sends what go-redis reports about connection trouble
// (Redis down, reconnecting) through its package-wide logger to logger, as
// warnings.
func SetRedisLogger(logger *slog.Logger) { redis.SetLogger(redisLogger{logger}) }

// redisLogger passes go-redis's messages to the app's log as warnings.
type redisLogger struct{ logger *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	if !strings.HasPrefix(msg, "redis:") {
		msg = "redis: " + msg
	}
	l.logger.WarnContext(ctx, msg)
}
