// The client credential: the one place where CLIENT_SECRET, a certificate file or a federated token file becomes MSAL's credential.

package entra

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"ms-identity-go-webapp/identity"
)

// certificateWarningPeriod is how long before its expiry a client
// certificate is reported at every start: long enough to upload a new one.
const certificateWarningPeriod = 30 * 24 * time.Hour

// clientCredential is the app's proof of identity to Entra ID.
type clientCredential struct {
	cred    confidential.Credential
	sendX5C bool
	kind    string // for the start-up line: "client secret", "certificate ...", "federated token file ..."
	warning string // a certificate that expires soon; empty otherwise
}

// loadCredential reads the credential cfg names (LoadConfig has checked that
// it names exactly one). Each error is one line naming the variable and what
// is wrong; none repeats a secret, a password or a key.
func loadCredential(cfg Config, now time.Time) (clientCredential, error) {
	switch {
	case cfg.ClientCertificatePath != "":
		return loadCertificate(cfg, now)
	case cfg.ClientAssertionFile != "":
		name := cfg.assertionVar()
		f, err := identity.NewTokenFile(cfg.ClientAssertionFile, nil)
		if err != nil {
			return clientCredential{}, fmt.Errorf("%s=%s: %s", name, cfg.ClientAssertionFile, fileReason(err))
		}
		return clientCredential{cred: f.Credential(), kind: "federated token file " + cfg.ClientAssertionFile}, nil
	default:
		cred, err := confidential.NewCredFromSecret(cfg.ClientSecret)
		if err != nil {
			return clientCredential{}, errors.New("CLIENT_SECRET is empty")
		}
		return clientCredential{cred: cred, kind: "client secret"}, nil
	}
}

func loadCertificate(cfg Config, now time.Time) (clientCredential, error) {
	path := cfg.ClientCertificatePath
	fail := func(format string, a ...any) (clientCredential, error) {
		return clientCredential{}, fmt.Errorf("CLIENT_CERTIFICATE_PATH=%s: "+format, append([]any{path}, a...)...)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fail("%s", fileReason(err))
	}
	cert, err := identity.ParseCertificate(data, cfg.ClientCertificatePassword)
	switch {
	case errors.Is(err, identity.ErrPasswordRequired):
		return fail("the private key is encrypted: set CLIENT_CERTIFICATE_PASSWORD")
	case errors.Is(err, identity.ErrWrongPassword):
		return fail("CLIENT_CERTIFICATE_PASSWORD does not decrypt the private key (wrong password)")
	case errors.Is(err, identity.ErrNoPrivateKey):
		return fail("the file holds no private key: put the certificate and its private key in one PEM file, or use the .pfx")
	case errors.Is(err, identity.ErrNotRSA):
		return fail("%v: create an RSA certificate, e.g. with ssl/generate-client-cert.sh", err)
	case errors.Is(err, identity.ErrKeyMismatch):
		return fail("the private key does not match the certificate: put the certificate of this key in the file")
	case err != nil:
		return fail("%v", err)
	}
	leaf := cert.Leaf()
	switch {
	case now.After(leaf.NotAfter):
		return fail("the certificate %s expired on %s: create a new one, upload it to the app registration and point CLIENT_CERTIFICATE_PATH at it",
			cert.Thumbprint(), leaf.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(leaf.NotBefore):
		return fail("the certificate %s is not valid before %s (check this machine's clock)",
			cert.Thumbprint(), leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	cred, err := cert.Credential()
	if err != nil {
		return fail("%v", err)
	}
	c := clientCredential{cred: cred, sendX5C: cfg.ClientCertificateSendX5C, kind: "certificate " + cert.Thumbprint()}
	if left := leaf.NotAfter.Sub(now); left < certificateWarningPeriod {
		c.warning = fmt.Sprintf("the client certificate %s (CLIENT_CERTIFICATE_PATH=%s) expires on %s, in %d days: upload a new one to the app registration before then",
			cert.Thumbprint(), path, leaf.NotAfter.UTC().Format(time.DateOnly), int((left+23*time.Hour)/(24*time.Hour)))
	}
	return c, nil
}

// fileReason says in a few words why a file could not be used.
func fileReason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "the file cannot be read (permission denied)"
	case errors.Is(err, fs.ErrInvalid):
		return "the path is not a file that can be read"
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return "the file cannot be read: " + pathErr.Err.Error()
	}
	return err.Error()
}
