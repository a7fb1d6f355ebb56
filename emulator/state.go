// In-memory sign-in state: authorization codes, with a lazy purge (of
// codes, browser sessions and sign-ins in progress) so memory stays bounded
// over long benchmark runs.

package emulator

import "time"

// authCode is one issued authorization code and what it was issued for.
type authCode struct {
	clientID    string // the app it was issued to; no other app can redeem it
	username    string
	redirectURI string
	scope       string // the authorize request's scope
	nonce       string
	challenge   string
	method      string // S256 or plain; empty when there was no challenge
	sid         string
	authTime    time.Time
	acrs        []string // authentication contexts satisfied at sign-in
	cp1         bool     // the authorize request declared the cp1 capability
	expires     time.Time
	redeemed    bool
}

const purgeEvery = 30 * time.Second

// purgeLocked drops expired codes and sessions. It runs at most every
// purgeEvery (of Config.Now time), so each call is usually free. Codes are
// kept for one extra CodeTTL after they expire so that a late redemption
// still gets AADSTS70008 (expired) rather than "unknown code".
func (e *Emulator) purgeLocked(now time.Time) {
	if d := now.Sub(e.lastPurge); d >= 0 && d < purgeEvery {
		return
	}
	e.lastPurge = now
	for k, c := range e.codes {
		if now.After(c.expires.Add(e.codeTTL)) {
			delete(e.codes, k)
		}
	}
	e.purgeSessionsLocked(now)
}

// newCode stores and returns a fresh authorization code.
func (e *Emulator) newCode(c *authCode) string {
	code := "1.AQ" + randomString(96)
	now := e.now()
	c.expires = now.Add(e.codeTTL)
	e.mu.Lock()
	e.purgeLocked(now)
	e.codes[code] = c
	e.mu.Unlock()
	e.count(StatCodesIssued)
	e.recordIssued(code)
	return code
}
