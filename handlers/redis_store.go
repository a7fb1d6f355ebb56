// Redis sessions: a gorilla sessions.Store over go-redis, so that several app instances share their users' sessions.

package handlers

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RedisKeyPrefix starts the Redis key of every session: the key is the
// prefix followed by the session id.
const RedisKeyPrefix = "ms-identity-go-webapp:session:"

// ErrStoreUnavailable means the session store could not be read or written
// (Redis down or too slow, a session directory the app cannot read). It is
// an outage, not a sign that the user is signed out: the request gets the
// "Session storage unavailable" page, and the next one tries again.
var ErrStoreUnavailable = errors.New("session store unavailable")

// errSessionNotFound is a signed session id whose record is gone: deleted,
// expired, or lost when Redis restarted without persistence.
var errSessionNotFound = fmt.Errorf("session record not found: %w", fs.ErrNotExist)

// Timeouts of the Redis client. They are short on purpose: a Redis outage
// must answer the user with an error page within a couple of seconds, not
// hold every request until the server's write timeout.
const (
	redisDialTimeout = time.Second
	redisIOTimeout   = time.Second
	// redisOpTimeout bounds one load or save, retries included.
	redisOpTimeout = 2 * time.Second
)

// redisCommands is the part of the go-redis client the store uses; tests
// replace it with an in-memory map.
type redisCommands interface {
	Get(ctx context.Context, key string) *redis.StringCmd
	Set(ctx context.Context, key string, value any, expiration time.Duration) *redis.StatusCmd
	Del(ctx context.Context, keys ...string) *redis.IntCmd
	Exists(ctx context.Context, keys ...string) *redis.IntCmd
}

// RedisStore keeps sessions in Redis, like FilesystemStore keeps them in
// files: the cookie holds only the session id, signed, and the Redis value
// holds the session's values, signed and encrypted with the same keys (the
// token cache is never stored in the clear). Each key expires with its
// session (SET ... EX MaxAge), so Redis cleans up after itself.
//
// It is written here rather than taken from a published Redis store for
// gorilla/sessions: those store the values unencrypted (the user's refresh
// token in the clear in Redis), and either put the bare, unsigned session id
// in the cookie or take no request context or timeouts, which an outage
// needs to fail fast.
type RedisStore struct {
	Codecs  []securecookie.Codec
	Options *sessions.Options // the defaults of new sessions

	client  redisCommands
	closer  func() error
	timeout time.Duration
}

// NewRedisSessionStore connects to the Redis server at redisURL (redis://,
// rediss:// or unix://), checks it answers PING, and returns the app's
// session store over it. The error names REDIS_URL, without its password.
func NewRedisSessionStore(ctx context.Context, redisURL, secret string) (*SessionStore, error) {
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
	// Nothing but GET, SET and DEL: no client-side tracking, no
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
	store := newRedisStore(client, secret)
	store.closer = client.Close
	st := NewSessionStore(store)
	st.exists = store.exists
	return st, nil
}

// newRedisStore builds the store over any client; NewRedisSessionStore
// passes a real one.
func newRedisStore(client redisCommands, secret string) *RedisStore {
	hashKey, blockKey := SessionKeys(secret)
	codecs := securecookie.CodecsFromPairs(hashKey, blockKey)
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxLength(maxSessionSize)
			sc.MaxAge(int(SessionLifetime / time.Second))
		}
	}
	return &RedisStore{Codecs: codecs, Options: cookieOptions(), client: client, timeout: redisOpTimeout}
}

// redactURL hides the password of a Redis URL, for error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// Get returns the request's session, through gorilla's per-request registry.
func (s *RedisStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session named by the request's cookie. Without a cookie it
// returns a new session and makes no Redis call. A cookie that fails its
// signature check, or names a record that is gone or unreadable, gives a new
// session and an error saying why; Redis not answering gives an error that
// wraps ErrStoreUnavailable.
func (s *RedisStore) New(r *http.Request, name string) (*sessions.Session, error) {
	session := sessions.NewSession(s, name)
	opts := *s.Options
	session.Options = &opts
	session.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return session, nil
	}
	if err := securecookie.DecodeMulti(name, c.Value, &session.ID, s.Codecs...); err != nil {
		session.ID = ""
		return session, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	data, err := s.client.Get(ctx, s.key(session.ID)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		session.ID = ""
		return session, errSessionNotFound
	case err != nil:
		return session, fmt.Errorf("%w: reading a session from Redis: %w", ErrStoreUnavailable, err)
	}
	if err := securecookie.DecodeMulti(name, data, &session.Values, s.Codecs...); err != nil {
		session.ID = ""
		session.Values = map[any]any{}
		return session, fmt.Errorf("stored session unreadable: %w", err)
	}
	session.IsNew = false
	return session, nil
}

// Save stores the session and sets its cookie; with a MaxAge of zero or
// less it deletes the record and expires the cookie, as gorilla's stores do.
// A session with no id (new, or renewed at sign-in) gets a fresh random one.
func (s *RedisStore) Save(r *http.Request, w http.ResponseWriter, session *sessions.Session) error {
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	if session.Options.MaxAge <= 0 {
		if session.ID != "" {
			if err := s.client.Del(ctx, s.key(session.ID)).Err(); err != nil {
				return fmt.Errorf("%w: deleting a session from Redis: %w", ErrStoreUnavailable, err)
			}
		}
		http.SetCookie(w, sessions.NewCookie(session.Name(), "", session.Options))
		return nil
	}
	if session.ID == "" {
		key := securecookie.GenerateRandomKey(32)
		if key == nil {
			return errors.New("generating a session id failed")
		}
		session.ID = strings.TrimRight(base32.StdEncoding.EncodeToString(key), "=")
	}
	value, err := securecookie.EncodeMulti(session.Name(), session.Values, s.Codecs...)
	if err != nil {
		return fmt.Errorf("encoding the session: %w", err)
	}
	ttl := time.Duration(session.Options.MaxAge) * time.Second
	if err := s.client.Set(ctx, s.key(session.ID), value, ttl).Err(); err != nil {
		return fmt.Errorf("%w: writing a session to Redis: %w", ErrStoreUnavailable, err)
	}
	cookie, err := securecookie.EncodeMulti(session.Name(), session.ID, s.Codecs...)
	if err != nil {
		return fmt.Errorf("encoding the session cookie: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(session.Name(), cookie, session.Options))
	return nil
}

// exists reports whether a session's record is still in Redis.
func (s *RedisStore) exists(ctx context.Context, id string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := s.client.Exists(ctx, s.key(id)).Result()
	if err != nil {
		return false, fmt.Errorf("%w: looking up a session in Redis: %w", ErrStoreUnavailable, err)
	}
	return n > 0, nil
}

// Close closes the connection pool.
func (s *RedisStore) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer()
}

func (s *RedisStore) key(id string) string { return RedisKeyPrefix + id }
