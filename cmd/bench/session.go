// Sessions: how many bytes one signed-in user's stored session takes, and what they are made of.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ms-identity-go-webapp/entra"
	"ms-identity-go-webapp/identity"
	"ms-identity-go-webapp/session"
)

// SessionSize is the stored size of signed-in users' sessions.
type SessionSize struct {
	Sessions    int   `json:"sessions"`
	MeanBytes   int64 `json:"mean_bytes"`
	MaxBytes    int64 `json:"max_bytes"`
	CookieBytes int   `json:"cookie_bytes"` // the session cookie a browser sends
	// Content is what the largest session holds, decoded with the
	// benchmark's SESSION_SECRET.
	Content SessionContent `json:"content"`
}

// SessionContent breaks one stored session down.
type SessionContent struct {
	Encoded        int `json:"encoded_bytes"` // identity.UserSession.Marshal's output, before the store compresses and seals it
	Claims         int `json:"claims_bytes"`  // the ID token's claims, as JSON
	TokenCache     int `json:"token_cache_bytes"`
	AccessToken    int `json:"access_token_bytes"`
	IDToken        int `json:"id_token_bytes"`
	RefreshToken   int `json:"refresh_token_bytes"`
	OtherCacheJSON int `json:"other_cache_bytes"` // account, app metadata and MSAL's field names
}

// sessionFiles lists the session files in dir with their sizes.
func sessionFiles(dir string) (map[string]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := map[string]int64{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), "session_") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted meanwhile (a session renewed at sign-in)
		}
		files[e.Name()] = info.Size()
	}
	return files, nil
}

// measureSessions sizes the session files in dir, which hold only signed-in
// users when it is called, and decodes the largest to show its content. If
// dump is not empty, the decoded content is written there.
func measureSessions(dir, secret, dump string) (SessionSize, error) {
	files, err := sessionFiles(dir)
	if err != nil {
		return SessionSize{}, err
	}
	if len(files) == 0 {
		return SessionSize{}, fmt.Errorf("no session files in %s", dir)
	}
	var s SessionSize
	var total int64
	largest := ""
	for name, size := range files {
		total += size
		if size > s.MaxBytes {
			s.MaxBytes, largest = size, name
		}
	}
	s.Sessions = len(files)
	s.MeanBytes = total / int64(len(files))
	s.Content, err = decodeSession(filepath.Join(dir, largest), secret, dump)
	return s, err
}

// decodeSession opens a session file as the app does (session.Store over
// its files, with the benchmark's SESSION_SECRET) and sizes its parts.
func decodeSession(path, secret, dump string) (SessionContent, error) {
	files, err := session.NewFileBackend(filepath.Dir(path))
	if err != nil {
		return SessionContent{}, err
	}
	keys, err := session.NewKeys(secret, "")
	if err != nil {
		return SessionContent{}, err
	}
	id := strings.TrimPrefix(filepath.Base(path), "session_")
	values, _, err := session.NewStore(files, keys).LoadID(context.Background(), id)
	if err != nil {
		return SessionContent{}, fmt.Errorf("decoding %s: %w", filepath.Base(path), err)
	}
	raw := values[entra.UserSessionKey]
	user, err := identity.UnmarshalUserSession(raw)
	if err != nil {
		return SessionContent{}, fmt.Errorf("decoding %s: %w", filepath.Base(path), err)
	}
	if dump != "" {
		// What the session holds, readable: the claims and MSAL's cache.
		readable, _ := json.MarshalIndent(map[string]any{
			"claims": user.Claims, "home_account_id": user.HomeAccountID, "token_cache": json.RawMessage(user.TokenCache),
		}, "", "  ")
		if err := os.WriteFile(dump, readable, 0o600); err != nil {
			return SessionContent{}, err
		}
	}
	claims, _ := json.Marshal(user.Claims)
	c := SessionContent{Encoded: len(raw), Claims: len(claims), TokenCache: len(user.TokenCache)}

	// MSAL's cache: {"AccessToken":{key:{"secret":...}}, "IdToken":..., "RefreshToken":...}.
	var cache map[string]map[string]struct {
		Secret string `json:"secret"`
	}
	if json.Unmarshal(user.TokenCache, &cache) == nil {
		sum := func(kind string) (n int) {
			for _, e := range cache[kind] {
				n += len(e.Secret)
			}
			return n
		}
		c.AccessToken, c.IDToken, c.RefreshToken = sum("AccessToken"), sum("IdToken"), sum("RefreshToken")
	}
	c.OtherCacheJSON = c.TokenCache - c.AccessToken - c.IDToken - c.RefreshToken
	return c, nil
}
