// Minting tokens: ID tokens, Graph access tokens, sealed refresh tokens and
// the token response that carries them.

package emulator

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// idTokenClaims are the claims of a v2.0 ID token, in Entra's order. The
// fields after Ver are added only with Config.TokenPadding, to bring the
// token to the size of a real one.
type idTokenClaims struct {
	Aud               string   `json:"aud"`
	Iss               string   `json:"iss"`
	Iat               int64    `json:"iat"`
	Nbf               int64    `json:"nbf"`
	Exp               int64    `json:"exp"`
	Acrs              []string `json:"acrs,omitempty"` // only after a step-up the request asked for
	Aio               string   `json:"aio"`
	LoginHint         string   `json:"login_hint"` // opaque; apps send it back as login_hint or logout_hint
	Name              string   `json:"name"`
	Nonce             string   `json:"nonce,omitempty"` // only when the authorize request had one
	Oid               string   `json:"oid"`
	PreferredUsername string   `json:"preferred_username"`
	Rh                string   `json:"rh"`
	Roles             []string `json:"roles,omitempty"` // only when the user has app roles
	Sid               string   `json:"sid,omitempty"`
	Sub               string   `json:"sub"`
	Tid               string   `json:"tid"`
	Uti               string   `json:"uti"`
	Ver               string   `json:"ver"`

	FamilyName string `json:"family_name,omitempty"`
	GivenName  string `json:"given_name,omitempty"`
	IPAddr     string `json:"ipaddr,omitempty"`
	XmsPad     string `json:"xms_pad,omitempty"`
}

// accessTokenClaims are the claims of a Microsoft Graph access token, which
// Entra issues in its v1.0 format whatever endpoint was used. The issuer is
// the emulator (https://{host}/{tenant}/) where Entra writes
// https://sts.windows.net/{tenant}/. Fields after Ver are padding only.
type accessTokenClaims struct {
	Aud            string   `json:"aud"`
	Iss            string   `json:"iss"`
	Iat            int64    `json:"iat"`
	Nbf            int64    `json:"nbf"`
	Exp            int64    `json:"exp"`
	Acrs           []string `json:"acrs,omitempty"`
	Aio            string   `json:"aio"`
	AppDisplayName string   `json:"app_displayname"`
	AppID          string   `json:"appid"`
	AppIDAcr       string   `json:"appidacr"`
	FamilyName     string   `json:"family_name,omitempty"`
	GivenName      string   `json:"given_name,omitempty"`
	IDTyp          string   `json:"idtyp"`
	Name           string   `json:"name"`
	Oid            string   `json:"oid"`
	Rh             string   `json:"rh"`
	Scp            string   `json:"scp"`
	Sub            string   `json:"sub"`
	Tid            string   `json:"tid"`
	UniqueName     string   `json:"unique_name"`
	Upn            string   `json:"upn"`
	Uti            string   `json:"uti"`
	Ver            string   `json:"ver"`
	// XmsCC lists the client capabilities the client declared: ["cp1"]
	// when it can answer claims challenges (CAE).
	XmsCC []string `json:"xms_cc,omitempty"`

	Acr               string          `json:"acr,omitempty"`
	Amr               []string        `json:"amr,omitempty"`
	IPAddr            string          `json:"ipaddr,omitempty"`
	Platf             string          `json:"platf,omitempty"`
	Puid              string          `json:"puid,omitempty"`
	SigninState       []string        `json:"signin_state,omitempty"`
	TenantRegionScope string          `json:"tenant_region_scope,omitempty"`
	Wids              []string        `json:"wids,omitempty"`
	XmsFtd            string          `json:"xms_ftd,omitempty"`
	XmsIdrel          string          `json:"xms_idrel,omitempty"`
	XmsSt             json.RawMessage `json:"xms_st,omitempty"`
	XmsTcdt           int64           `json:"xms_tcdt,omitempty"`
	XmsTdbr           string          `json:"xms_tdbr,omitempty"`
	XmsPad            string          `json:"xms_pad,omitempty"`
}

// Padded token sizes, in the middle of what Entra issues for Graph.
const (
	paddedAccessTokenLen = 2200
	paddedIDTokenLen     = 1700
)

// issue describes one token response to mint.
type issue struct {
	app         *app   // the client the tokens are for: aud of the ID token, appid of the access token
	issuer      string // https://{host}/{tenant}/v2.0
	user        *User
	grant       grant
	nonce       string
	sid         string
	authTime    time.Time
	acrs        []string // authentication contexts satisfied at sign-in
	cp1         bool     // the client declared the cp1 capability
	withID      bool
	withRefresh bool
}

// tokenResponse is the token endpoint's success body, in Entra's order.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info"`
}

// mint signs the tokens for one response. It takes no lock: signing is the
// slow part of the token endpoint and runs concurrently.
func (e *Emulator) mint(is issue) (tokenResponse, error) {
	now := e.now()
	u := is.user
	at, err := e.accessToken(is, now)
	if err != nil {
		return tokenResponse{}, err
	}
	resp := tokenResponse{
		TokenType:    "Bearer",
		Scope:        is.grant.echo(),
		ExpiresIn:    int64(e.accessTTL / time.Second),
		ExtExpiresIn: int64(e.accessTTL / time.Second),
		AccessToken:  at,
		ClientInfo:   clientInfo(u.OID, e.tenant),
	}
	if is.withID {
		if resp.IDToken, err = e.idToken(is, now); err != nil {
			return tokenResponse{}, err
		}
	}
	if is.withRefresh {
		if resp.RefreshToken, err = e.sealRefreshToken(is, now); err != nil {
			return tokenResponse{}, err
		}
	}
	e.recordIssued(resp.AccessToken, resp.IDToken, resp.RefreshToken)
	return resp, nil
}

func (e *Emulator) idToken(is issue, now time.Time) (string, error) {
	u := is.user
	c := idTokenClaims{
		Aud:               is.app.clientID,
		Iss:               is.issuer,
		Iat:               now.Unix(),
		Nbf:               now.Unix(),
		Exp:               now.Add(e.idTTL).Unix(),
		Aio:               randomString(60),
		Name:              u.Name,
		Nonce:             is.nonce,
		Oid:               u.OID,
		PreferredUsername: u.Username,
		Rh:                entraRH(),
		Roles:             e.rolesFor(is.app, u), // directory.go
		Sid:               is.sid,
		Acrs:              e.acrsClaim(is),
		LoginHint:         e.loginHintClaim(u),
		Sub:               pairwiseSub(e.tenant, is.app.clientID, u.OID),
		Tid:               e.tenant,
		Uti:               newUTI(now),
		Ver:               "2.0",
	}
	if !e.padding {
		return e.signClaims(c)
	}
	c.FamilyName, c.GivenName, c.IPAddr = u.Surname, u.GivenName, "127.0.0.1"
	return e.signPadded(&c, &c.XmsPad, paddedIDTokenLen)
}

func (e *Emulator) accessToken(is issue, now time.Time) (string, error) {
	u := is.user
	c := accessTokenClaims{
		Aud:            GraphResourceID,
		Iss:            strings.TrimSuffix(is.issuer, "v2.0"),
		Iat:            now.Unix(),
		Nbf:            now.Unix(),
		Exp:            now.Add(e.accessTTL).Unix(),
		Aio:            randomString(60),
		AppDisplayName: is.app.displayName,
		AppID:          is.app.clientID,
		AppIDAcr:       "1",
		FamilyName:     u.Surname,
		GivenName:      u.GivenName,
		IDTyp:          "user",
		Name:           u.Name,
		Oid:            u.OID,
		Rh:             entraRH(),
		Scp:            is.grant.scpClaim(),
		Sub:            pairwiseSub(e.tenant, GraphResourceID, u.OID),
		Tid:            e.tenant,
		UniqueName:     u.Username,
		Upn:            u.Username,
		Uti:            newUTI(now),
		Ver:            "1.0",
		Acrs:           e.acrsClaim(is),
	}
	if is.cp1 {
		c.XmsCC = []string{"cp1"}
	}
	if !e.padding {
		return e.signClaims(c)
	}
	// Realistic claims first (Entra's names and shapes), then filler.
	c.Acr, c.Amr, c.IPAddr, c.Platf = "1", []string{"pwd"}, "127.0.0.1", "3"
	c.Puid = fmt.Sprintf("%X", sha256.Sum256([]byte(u.OID)))[:16]
	c.SigninState = []string{"kmsi"}
	c.TenantRegionScope = "EU"
	c.Wids = []string{"b79fbf4d-3ef9-4689-8143-76b194e85509"} // the "member" directory role template
	c.XmsFtd = randomString(48)
	c.XmsIdrel = "1 16"
	c.XmsSt, _ = json.Marshal(map[string]string{"sub": pairwiseSub(e.tenant, is.app.clientID, u.OID)})
	c.XmsTcdt = 1700000000
	c.XmsTdbr = "EU"
	return e.signPadded(&c, &c.XmsPad, paddedAccessTokenLen)
}

// acrsClaim is a token's acrs claim: the authentication contexts satisfied
// at sign-in, none with Config.OmitACRS. The refresh token keeps them
// either way: they are what the sign-in did, not what a token says.
func (e *Emulator) acrsClaim(is issue) []string {
	if e.omitACRS {
		return nil
	}
	return is.acrs
}

func (e *Emulator) signClaims(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return e.signer.sign(payload)
}

// signPadded fills *pad so that the signed token is about target bytes long.
func (e *Emulator) signPadded(claims any, pad *string, target int) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	// `,"xms_pad":"..."` adds 13 bytes of JSON plus the filler; base64url
	// turns every 3 bytes into 4.
	if missing := target - e.signer.encodedLen(len(payload)); missing > 0 {
		if n := missing*3/4 - 13; n > 0 {
			*pad = randomString(n * 3 / 4)
			if payload, err = json.Marshal(claims); err != nil {
				return "", err
			}
		}
	}
	return e.signer.sign(payload)
}

// clientInfo is the token response's client_info: base64url WITHOUT padding
// of {"uid","utid"}. MSAL builds the home account ID (uid.utid) from it and
// fails to decode padded base64.
func clientInfo(oid, tenant string) string {
	data, _ := json.Marshal(struct {
		UID  string `json:"uid"`
		UTID string `json:"utid"`
	}{oid, tenant})
	return b64.EncodeToString(data)
}

// pairwiseSub is a stable subject per user and app, like Entra's sub.
func pairwiseSub(tenant, clientID, oid string) string {
	sum := sha256.Sum256([]byte("entra-emulator/sub/" + tenant + "/" + strings.ToLower(clientID) + "/" + oid))
	return b64.EncodeToString(sum[:])[:43]
}

// entraRH imitates Entra's opaque rh claim.
func entraRH() string { return "0.A" + randomString(60) + "." }

// refreshState is what a refresh token carries. Refresh tokens are sealed
// (AES-GCM) rather than stored, so they cost no memory however many are
// issued, and an expired one is still recognised as expired (AADSTS700082)
// instead of unknown. Revocation goes through the per-user generation.
type refreshState struct {
	Username   string   `json:"u"`
	ClientID   string   `json:"c"`
	Scope      string   `json:"s"`
	Sid        string   `json:"sid,omitempty"`
	Acrs       []string `json:"acrs,omitempty"`
	AuthTime   int64    `json:"at"`
	IssuedAt   int64    `json:"iat"`
	Expires    int64    `json:"exp"`
	Generation int      `json:"g"`
	Pad        string   `json:"p,omitempty"` // with TokenPadding, Entra-sized refresh tokens
}

const refreshPrefix = "1.AQ"

func (e *Emulator) sealRefreshToken(is issue, now time.Time) (string, error) {
	key := strings.ToLower(is.user.Username)
	e.mu.Lock()
	gen := e.revoked[key].generation
	e.mu.Unlock()
	st := refreshState{
		Username:   is.user.Username,
		ClientID:   is.app.clientID,
		Scope:      strings.Join(append(append([]string(nil), is.grant.resource...), grantOIDC(is.grant)...), " "),
		Sid:        is.sid,
		Acrs:       is.acrs,
		AuthTime:   is.authTime.Unix(),
		IssuedAt:   now.Unix(),
		Expires:    now.Add(e.refreshTTL).Unix(),
		Generation: gen,
	}
	if e.padding {
		// Entra's refresh tokens are opaque blobs of about 1.1 KB.
		st.Pad = randomString(600)
	}
	plain, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, e.sealer.NonceSize())
	rand.Read(nonce)
	sealed := e.sealer.Seal(nonce, nonce, plain, []byte(e.tenant))
	return refreshPrefix + b64.EncodeToString(sealed), nil
}

var errUnknownRefreshToken = errors.New("refresh token was not issued by this emulator")

func (e *Emulator) openRefreshToken(token string) (refreshState, error) {
	raw, ok := strings.CutPrefix(token, refreshPrefix)
	if !ok {
		return refreshState{}, errUnknownRefreshToken
	}
	sealed, err := b64.DecodeString(raw)
	if err != nil || len(sealed) < e.sealer.NonceSize() {
		return refreshState{}, errUnknownRefreshToken
	}
	n := e.sealer.NonceSize()
	plain, err := e.sealer.Open(nil, sealed[:n], sealed[n:], []byte(e.tenant))
	if err != nil {
		return refreshState{}, errUnknownRefreshToken
	}
	var st refreshState
	if err := json.Unmarshal(plain, &st); err != nil {
		return refreshState{}, errUnknownRefreshToken
	}
	return st, nil
}

// grantOIDC lists the OpenID Connect scopes of g, for re-parsing later.
func grantOIDC(g grant) []string {
	var out []string
	for _, s := range []struct {
		on   bool
		name string
	}{{g.openid, "openid"}, {g.profile, "profile"}, {g.email, "email"}, {g.offline, "offline_access"}} {
		if s.on {
			out = append(out, s.name)
		}
	}
	return out
}
