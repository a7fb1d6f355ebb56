package emulator

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"ms-identity-go-webapp/internal/testutil"
)

// signJWT signs claims with key under header, whose alg says how (RS256 or
// PS256).
func signJWT(t testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	if header["alg"] == "PS256" {
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

// msalGoAssertion is the assertion MSAL Go makes for cert (REFERENCE §4.1),
// after edit has changed its header and claims.
func (env *testEnv) msalGoAssertion(cert testutil.ClientCert, edit func(h, c map[string]any)) string {
	env.t.Helper()
	sum := sha256.Sum256(cert.Cert.Raw)
	now := env.clock.Now()
	h := map[string]any{"alg": "PS256", "typ": "JWT", "x5t#S256": base64.StdEncoding.EncodeToString(sum[:])}
	c := map[string]any{
		"aud": env.tenantPath("/oauth2/v2.0/token"),
		"iss": DemoClientID, "sub": DemoClientID, "jti": newGUID(),
		"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
	if edit != nil {
		edit(h, c)
	}
	return signJWT(env.t, cert.Key, h, c)
}

// assertionForm is a code redemption authenticated with an assertion.
func assertionForm(code, assertion string) url.Values {
	f := codeForm(code, testVerifier)
	f.Del("client_secret")
	f.Set("client_assertion_type", jwtBearer)
	f.Set("client_assertion", assertion)
	return f
}

func TestCertificateAssertions(t *testing.T) {
	cert := testutil.NewClientCert(t, nil, "app", time.Now().Add(24*time.Hour))
	unregistered := testutil.NewClientCert(t, nil, "not uploaded", time.Now().Add(24*time.Hour))
	expired := testutil.NewClientCert(t, testutil.SigningKey(), "expired", time.Now().Add(time.Minute))
	env := newEnv(t, func(c *Config) { c.ClientCertificates = []*x509.Certificate{cert.Cert, expired.Cert} })
	sha1Sum := sha1.Sum(cert.Cert.Raw)
	sha256Sum := sha256.Sum256(cert.Cert.Raw)
	x5tHeader := func(name string, enc *base64.Encoding, sum []byte) func(h, c map[string]any) {
		return func(h, _ map[string]any) {
			delete(h, "x5t#S256")
			h[name] = enc.EncodeToString(sum)
		}
	}

	accepted := []struct {
		name string
		edit func(h, c map[string]any)
	}{
		{"as MSAL Go sends it: PS256, x5t#S256 in padded standard base64", nil},
		{"as MSAL Python sends it: RS256, SHA-1 x5t in base64url", func(h, c map[string]any) {
			x5tHeader("x5t", base64.RawURLEncoding, sha1Sum[:])(h, c)
			h["alg"] = "RS256"
			c["iat"] = c["nbf"]
		}},
		{"x5t#S256 in unpadded base64url", x5tHeader("x5t#S256", base64.RawURLEncoding, sha256Sum[:])},
		{"x5t in padded standard base64, PS256", x5tHeader("x5t", base64.StdEncoding, sha1Sum[:])},
		{"x5c with the certificate", func(h, _ map[string]any) { h["x5c"] = []string{base64.StdEncoding.EncodeToString(cert.Cert.Raw)} }},
		{"expired 4 minutes ago (within the skew)", func(_, c map[string]any) {
			c["nbf"], c["exp"] = env.clock.Now().Add(-14*time.Minute).Unix(), env.clock.Now().Add(-4*time.Minute).Unix()
		}},
		{"audience in an array, tenant in upper case", func(_, c map[string]any) {
			c["aud"] = []string{strings.ToUpper(env.tenantPath("/oauth2/v2.0/token"))}
		}},
	}
	var sent []string
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			code := env.code(nil, "alice@demo.test", "alice-password")
			assertion := env.msalGoAssertion(cert, tc.edit)
			sent = append(sent, assertion)
			status, body := env.token(assertionForm(code, assertion))
			if status != http.StatusOK || str(body, "access_token") == "" {
				t.Fatalf("status %d: %v", status, body)
			}
		})
	}

	refused := []struct {
		name    string
		cert    testutil.ClientCert
		edit    func(h, c map[string]any)
		code    int
		mention string
	}{
		{"certificate not registered", unregistered, nil, 700027, thumbHex(unregistered.Cert.Raw, sha256.New)},
		{"no thumbprint", cert, func(h, _ map[string]any) { delete(h, "x5t#S256") }, 700027, "neither x5t#S256 nor x5t"},
		{"thumbprint of another length", cert, x5tHeader("x5t#S256", base64.StdEncoding, sha1Sum[:]), 50027, "32-byte"},
		{"signed with another key", testutil.ClientCert{Cert: cert.Cert, Key: testutil.SigningKey()}, nil, 700027, "invalid signature"},
		{"registered certificate expired", expired, func(_, _ map[string]any) { env.clock.Advance(2 * time.Minute) }, 700027, "expired"},
		{"HS256", cert, func(h, _ map[string]any) { h["alg"] = "HS256" }, 50027, "PS256 or RS256"},
		{"alg none", cert, func(h, _ map[string]any) { h["alg"] = "none" }, 50027, "PS256 or RS256"},
		{"audience of another endpoint", cert, func(_, c map[string]any) { c["aud"] = "https://login.microsoftonline.com/x/oauth2/v2.0/token" }, 50027, "audience"},
		{"subject not the client", cert, func(_, c map[string]any) { c["sub"] = "someone-else" }, 50027, "sub claim"},
		{"x5c of another certificate", cert, func(h, _ map[string]any) {
			h["x5c"] = []string{base64.StdEncoding.EncodeToString(unregistered.Cert.Raw)}
		}, 50027, "x5c"},
		{"expired", cert, func(_, c map[string]any) {
			c["nbf"], c["exp"] = env.clock.Now().Add(-20*time.Minute).Unix(), env.clock.Now().Add(-6*time.Minute).Unix()
		}, 700024, "Current time"},
		{"not yet valid", cert, func(_, c map[string]any) {
			c["nbf"], c["exp"] = env.clock.Now().Add(6*time.Minute).Unix(), env.clock.Now().Add(16*time.Minute).Unix()
		}, 700024, "assertion valid from"},
		{"lifetime over a day", cert, func(_, c map[string]any) { c["exp"] = env.clock.Now().Add(25 * time.Hour).Unix() }, 700024, "longer than the one day"},
		{"no exp", cert, func(_, c map[string]any) { delete(c, "exp") }, 50027, "exp"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			status, body := env.token(assertionForm("unused-code", env.msalGoAssertion(tc.cert, tc.edit)))
			wantAADError(t, status, body, http.StatusUnauthorized, "invalid_client", tc.code)
			if !strings.Contains(str(body, "error_description"), tc.mention) {
				t.Errorf("description %q does not say %q", str(body, "error_description"), tc.mention)
			}
		})
	}

	t.Run("malformed requests", func(t *testing.T) {
		good := env.msalGoAssertion(cert, nil)
		for _, tc := range []struct {
			name   string
			edit   func(url.Values)
			status int
			code   int
		}{
			{"not a JWT", func(f url.Values) { f.Set("client_assertion", "not.a-jwt") }, 401, 50027},
			{"JSON that is not a JWT", func(f url.Values) { f.Set("client_assertion", "e30.e30.e30") }, 401, 50027},
			{"type without assertion", func(f url.Values) { f.Del("client_assertion") }, 401, 7000218},
			{"assertion without type", func(f url.Values) { f.Del("client_assertion_type") }, 401, 50027},
			{"other assertion type", func(f url.Values) {
				f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
			}, 401, 50027},
			{"secret and assertion", func(f url.Values) { f.Set("client_secret", DemoClientSecret) }, 400, 9002313},
		} {
			t.Run(tc.name, func(t *testing.T) {
				form := assertionForm("unused-code", good)
				tc.edit(form)
				status, body := env.token(form)
				if status != tc.status || !hasCode(body, tc.code) {
					t.Fatalf("status %d, body %v; want %d with AADSTS%d", status, body, tc.status, tc.code)
				}
			})
		}
	})

	t.Run("the client secret still works beside certificates", func(t *testing.T) {
		env.tokens("alice@demo.test", "alice-password")
	})

	t.Run("what the emulator received", func(t *testing.T) {
		got := env.em.ClientAssertions()
		first := got[0]
		if first.Kind != "certificate" || first.Alg != "PS256" || first.ThumbprintHeader != "x5t#S256" ||
			first.Thumbprint != thumbHex(cert.Cert.Raw, sha256.New) || first.Error != 0 || first.Subject != DemoClientID {
			t.Errorf("first assertion recorded as %+v", first)
		}
		if py := got[1]; py.Alg != "RS256" || py.ThumbprintHeader != "x5t" || py.Thumbprint != thumbHex(cert.Cert.Raw, sha1.New) {
			t.Errorf("MSAL Python's assertion recorded as %+v", py)
		}
		if got[len(accepted)].Error != 700027 {
			t.Errorf("the unregistered certificate's assertion recorded as %+v", got[len(accepted)])
		}
		issued := strings.Join(env.em.IssuedValues(), "\n")
		for _, a := range sent {
			if !strings.Contains(issued, a) {
				t.Fatal("a received assertion is not among the values the log scans look for")
			}
		}
	})
}

func thumbHex(der []byte, newHash func() hash.Hash) string {
	h := newHash()
	h.Write(der)
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

func hasCode(body map[string]any, code int) bool {
	codes, _ := body["error_codes"].([]any)
	return len(codes) == 1 && codes[0] == float64(code)
}

// workloadToken asks the emulator's external issuer for a token.
func (env *testEnv) workloadToken(form url.Values) string {
	env.t.Helper()
	resp, err := env.srv.Client().PostForm(env.url("/emulator/workload-token"), form)
	if err != nil {
		env.t.Fatal(err)
	}
	body := decodeJSON(env.t, resp)
	if resp.StatusCode != http.StatusOK || str(body, "token") == "" {
		env.t.Fatalf("workload token: %d %v", resp.StatusCode, body)
	}
	return str(body, "token")
}

func TestFederatedAssertions(t *testing.T) {
	const subject = "system:serviceaccount:web:sign-in"
	env := newEnv(t, func(c *Config) { c.FederatedSubjects = []string{"another-subject", subject} })
	token := env.workloadToken(url.Values{"subject": {subject}})

	t.Run("the issuer publishes its metadata and key", func(t *testing.T) {
		iss := env.url("/workload-identity")
		if claims := jwtClaims(t, token); claims["iss"] != iss || claims["sub"] != subject ||
			claims["aud"].([]any)[0] != FederatedAudience || claims["exp"].(float64)-claims["nbf"].(float64) != 3600 {
			t.Fatalf("claims %v", claims)
		}
		meta := decodeJSON(t, env.get(iss+"/.well-known/openid-configuration"))
		if meta["issuer"] != iss || meta["jwks_uri"] != iss+"/openid/v1/jwks" {
			t.Fatalf("openid-configuration %v", meta)
		}
		keys := decodeJSON(t, env.get(str(meta, "jwks_uri")))["keys"].([]any)
		var hdr map[string]any
		raw, _ := b64.DecodeString(strings.Split(token, ".")[0])
		json.Unmarshal(raw, &hdr)
		if len(keys) != 1 || keys[0].(map[string]any)["kid"] != hdr["kid"] {
			t.Fatalf("JWKS %v does not hold the token's key %v", keys, hdr["kid"])
		}
	})

	t.Run("accepted, and again: reuse is allowed", func(t *testing.T) {
		for range 2 {
			status, body := env.token(assertionForm(env.code(nil, "alice@demo.test", "alice-password"), token))
			if status != http.StatusOK {
				t.Fatalf("status %d: %v", status, body)
			}
		}
	})

	forged := func(claims map[string]any) string {
		c := jwtClaims(t, token)
		for k, v := range claims {
			c[k] = v
		}
		payload, _ := json.Marshal(c)
		signed, err := env.em.signer.sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	parts := strings.Split(token, ".")
	tampered := parts[0] + "." + b64.EncodeToString([]byte(strings.Replace(string(mustB64(t, parts[1])), subject, "another-subject", 1))) + "." + parts[2]
	for _, tc := range []struct {
		name      string
		assertion func() string
		code      int
		mention   string
	}{
		{"subject not registered", func() string { return env.workloadToken(url.Values{"subject": {"system:serviceaccount:web:other"}}) }, 700213, "subject 'system:serviceaccount:web:other'"},
		{"another audience", func() string { return env.workloadToken(url.Values{"subject": {subject}, "audience": {"api://other"}}) }, 700212, "audience 'api://other'"},
		{"another issuer", func() string { return forged(map[string]any{"iss": "https://oidc.example/issuer"}) }, 700211, "issuer 'https://oidc.example/issuer'"},
		{"an ID token of the tenant", func() string { return str(env.tokens("alice@demo.test", "alice-password"), "id_token") }, 700211, "issuer"},
		{"tampered claims", func() string { return tampered }, 50027, "signature"},
		{"expired", func() string {
			short := env.workloadToken(url.Values{"subject": {subject}, "ttl": {"60"}})
			env.clock.Advance(7 * time.Minute)
			return short
		}, 700024, "Current time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := env.token(assertionForm("unused-code", tc.assertion()))
			wantAADError(t, status, body, http.StatusUnauthorized, "invalid_client", tc.code)
			if !strings.Contains(str(body, "error_description"), tc.mention) {
				t.Errorf("description %q does not say %q", str(body, "error_description"), tc.mention)
			}
		})
	}

	t.Run("no federated credential registered", func(t *testing.T) {
		bare := newEnv(t, nil)
		tok := bare.workloadToken(url.Values{"subject": {subject}})
		status, body := bare.token(assertionForm("unused-code", tok))
		wantAADError(t, status, body, http.StatusUnauthorized, "invalid_client", 700211)
	})

	t.Run("bad workload token requests", func(t *testing.T) {
		for _, form := range []url.Values{
			{},
			{"subject": {" "}},
			{"subject": {subject}, "ttl": {"0"}},
			{"subject": {subject}, "ttl": {"25h"}},
			{"subject": {subject}, "ttl": {"soon"}},
		} {
			resp, err := env.srv.Client().PostForm(env.url("/emulator/workload-token"), form)
			if err != nil {
				t.Fatal(err)
			}
			if body := decodeJSON(t, resp); resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" {
				t.Errorf("%v: %d %v", form, resp.StatusCode, body)
			}
		}
		if tok := env.workloadToken(url.Values{"subject": {subject}, "ttl": {"10m"}}); func() float64 {
			c := jwtClaims(t, tok)
			return c["exp"].(float64) - c["iat"].(float64)
		}() != 600 {
			t.Error("ttl=10m is not a ten-minute token")
		}
	})

	t.Run("recorded", func(t *testing.T) {
		got := env.em.ClientAssertions()
		if got[0].Kind != "federated" || got[0].Subject != subject || got[0].Issuer != env.url("/workload-identity") || got[0].Error != 0 {
			t.Errorf("recorded %+v", got[0])
		}
	})
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
