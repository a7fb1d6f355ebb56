// Fault injection and the /emulator/ control endpoints.

package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fault makes an endpoint misbehave, for tests and for people who want to
// see the app's error pages.
type Fault struct {
	Endpoint string        `json:"endpoint"` // "authorize","token","logout","graph","openid_configuration","keys","devicecode"
	Status   int           `json:"status"`   // answer with this HTTP status and an Entra- or Graph-shaped error body; 0 = no status fault
	Delay    time.Duration `json:"delay"`    // wait this long first (stopping early, without answering, if the client goes away); JSON "5s"
	Times    int           `json:"times"`    // how many matching requests it applies to; 0 = every one until cleared
}

var faultEndpoints = []string{EndpointAuthorize, EndpointToken, EndpointLogout, EndpointGraph, EndpointOpenIDConfiguration, EndpointKeys, EndpointDeviceCode}

// MarshalJSON writes Delay as a duration string ("5s").
func (f Fault) MarshalJSON() ([]byte, error) {
	type plain Fault
	return json.Marshal(struct {
		plain
		Delay string `json:"delay"`
	}{plain(f), f.Delay.String()})
}

// UnmarshalJSON accepts Delay as a duration string ("5s", "250ms") or as a
// number of nanoseconds (encoding/json's form for time.Duration), and
// rejects unknown fields so a typo does not silently inject nothing.
func (f *Fault) UnmarshalJSON(data []byte) error {
	var raw struct {
		Endpoint string          `json:"endpoint"`
		Status   int             `json:"status"`
		Delay    json.RawMessage `json:"delay"`
		Times    int             `json:"times"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	*f = Fault{Endpoint: raw.Endpoint, Status: raw.Status, Times: raw.Times}
	if len(raw.Delay) == 0 || string(raw.Delay) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw.Delay, &s) == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("fault delay %q: %w", s, err)
		}
		f.Delay = d
		return nil
	}
	n, err := strconv.ParseInt(string(raw.Delay), 10, 64)
	if err != nil {
		return fmt.Errorf("fault delay %s is neither a duration string nor nanoseconds", raw.Delay)
	}
	f.Delay = time.Duration(n)
	return nil
}

func (f Fault) validate() error {
	switch {
	case !slices.Contains(faultEndpoints, f.Endpoint):
		return fmt.Errorf("unknown fault endpoint %q (want one of %s)", f.Endpoint, strings.Join(faultEndpoints, ", "))
	case f.Status != 0 && (f.Status < 400 || f.Status > 599):
		return fmt.Errorf("fault status %d is not an HTTP error status (400-599)", f.Status)
	case f.Delay < 0:
		return fmt.Errorf("fault delay %v is negative", f.Delay)
	case f.Status == 0 && f.Delay == 0:
		return errors.New("fault has neither a status nor a delay")
	case f.Times < 0:
		return fmt.Errorf("fault times %d is negative", f.Times)
	}
	return nil
}

type activeFault struct {
	Fault
	remaining int // counts down from Times; unused when Times is 0
}

// InjectFault adds a fault. Faults for the same endpoint apply in the order
// they were added: a fault with Times n handles the next n requests, then
// the next fault takes over.
func (e *Emulator) InjectFault(f Fault) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	e.faults = append(e.faults, &activeFault{Fault: f, remaining: f.Times})
	return nil
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	e.faults = nil
}

// Faults returns the active faults, Times showing how many uses are left.
func (e *Emulator) Faults() []Fault {
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	out := make([]Fault, 0, len(e.faults))
	for _, f := range e.faults {
		cp := f.Fault
		cp.Times = f.remaining
		out = append(out, cp)
	}
	return out
}

// takeFault returns the fault that applies to this request, if any, and
// uses it up.
func (e *Emulator) takeFault(endpoint string) (Fault, bool) {
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	for i, f := range e.faults {
		if f.Endpoint != endpoint {
			continue
		}
		if f.Times > 0 {
			f.remaining--
			if f.remaining == 0 {
				e.faults = slices.Delete(e.faults, i, i+1)
			}
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// applyFault delays and/or answers the request as a fault says. It returns
// true when the request should be handled normally.
func (e *Emulator) applyFault(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	f, ok := e.takeFault(endpoint)
	if !ok {
		return true
	}
	e.count(StatFaults)
	if f.Delay > 0 {
		// Read a POST's body first: the server notices a client that gave
		// up only once the body has been read, and the delay must end then.
		if r.Method == http.MethodPost {
			_ = r.ParseForm()
		}
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			// The client went away. Abort the response rather than return:
			// a handler that returns without writing answers an empty 200,
			// which a client that is still there would take for a success.
			panic(http.ErrAbortHandler)
		}
	}
	if f.Status == 0 {
		return true
	}
	switch endpoint {
	case EndpointGraph:
		code, msg := graphFault(f.Status)
		e.graphError(w, r, f.Status, code, msg)
	case EndpointAuthorize, EndpointLogout:
		e.renderError(w, r, f.Status, errFault(f.Status))
	default:
		e.writeAADError(w, r, errFault(f.Status))
	}
	return false
}

func (e *Emulator) handleStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, e.Stats())
}

func (e *Emulator) handleListFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]Fault{"faults": e.Faults()})
}

// handlePostFault takes a Fault as JSON, {"revoke_refresh_tokens":"<username>"},
// {"cae_event":"<username>"} or {"directory":{...DirectoryFaults}}.
func (e *Emulator) handlePostFault(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err != nil {
		controlError(w, http.StatusBadRequest, "could not read the request body")
		return
	}
	var revoke struct {
		Username *string `json:"revoke_refresh_tokens"`
	}
	if json.Unmarshal(body, &revoke) == nil && revoke.Username != nil {
		if err := e.RevokeRefreshTokens(*revoke.Username); err != nil {
			controlError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"revoked_refresh_tokens": *revoke.Username})
		return
	}
	var cae struct {
		Username *string `json:"cae_event"`
	}
	if json.Unmarshal(body, &cae) == nil && cae.Username != nil {
		at, err := e.CAEEvent(*cae.Username)
		if err != nil {
			controlError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"cae_event": *cae.Username, "at": at.UTC().Format(time.RFC3339Nano)})
		return
	}
	var dir struct {
		Faults *DirectoryFaults `json:"directory"`
	}
	if json.Unmarshal(body, &dir) == nil && dir.Faults != nil {
		e.SetDirectoryFaults(*dir.Faults) // directory.go
		writeJSON(w, http.StatusOK, map[string]DirectoryFaults{"directory": *dir.Faults})
		return
	}
	var f Fault
	if err := json.Unmarshal(body, &f); err != nil {
		controlError(w, http.StatusBadRequest, "body is not a fault: "+err.Error()+`; want {"endpoint":"token","status":500,"delay":"5s","times":1}, {"revoke_refresh_tokens":"user@demo.test"}, {"cae_event":"user@demo.test"} or {"directory":{"replication_lag":3}}`)
		return
	}
	if err := e.InjectFault(f); err != nil {
		controlError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]Fault{"fault": f})
}

func (e *Emulator) handleClearFaults(w http.ResponseWriter, r *http.Request) {
	e.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
}

func controlError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
