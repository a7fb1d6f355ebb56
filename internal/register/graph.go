// A small Microsoft Graph client: JSON in and out, Graph's errors as Go
// errors, and the two retries Graph asks of its callers: after a 429 or
// 503 (waiting what Retry-After says), and while a new object replicates.

package register

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultBackoff is how long to wait between tries while Graph has not yet
// replicated an object the command just created: about three minutes in
// all, as long as the Azure CLI waits (36 tries, 5 s apart).
var DefaultBackoff = []time.Duration{
	2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
	30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second,
}

// maxThrottled bounds the 429/503 retries of one request, and
// maxRetryAfter how long one Retry-After may make it wait.
const (
	maxThrottled  = 5
	maxRetryAfter = 2 * time.Minute
)

// GraphError is an error answer of Microsoft Graph.
type GraphError struct {
	Method, Path string
	Status       int
	Code         string // e.g. Authorization_RequestDenied
	Message      string
}

func (e *GraphError) Error() string {
	return fmt.Sprintf("Microsoft Graph answered %s %s with %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Message)
}

// denied reports whether Graph refused for lack of privileges.
func (e *GraphError) denied() bool {
	return e.Status == http.StatusForbidden || e.Code == "Authorization_RequestDenied"
}

// replicating reports whether the error means "not there yet": an object
// created moments ago that this Graph replica does not know.
func (e *GraphError) replicating() bool {
	switch {
	case e.Status == http.StatusNotFound && e.Code == "Request_ResourceNotFound":
		return true
	case e.Status == http.StatusBadRequest && (e.Code == "NoBackingApplicationObject" || strings.Contains(e.Message, "NoBackingApplicationObject")):
		return true
	case e.Status == http.StatusBadRequest && strings.Contains(e.Message, "does not reference a valid application object"):
		return true
	case e.Status == http.StatusBadRequest && strings.Contains(e.Message, "Permission being assigned was not found"):
		return true // the app role has not reached the service principal yet
	}
	return false
}

// ReplicationError says that Graph still did not show an object after the
// whole backoff.
type ReplicationError struct {
	What   string
	Waited time.Duration
	Last   *GraphError
}

func (e *ReplicationError) Error() string {
	return fmt.Sprintf("Microsoft Graph still does not show the new %s after %s (its replication delay; last answer: %d %s). "+
		"Run the command again in a few minutes: it picks up where it stopped.", e.What, e.Waited, e.Last.Status, e.Last.Code)
}

func (e *ReplicationError) Unwrap() error { return e.Last }

// graph calls Microsoft Graph with one access token.
type graph struct {
	base    string // e.g. https://graph.microsoft.com/v1.0
	token   string
	client  *http.Client
	backoff []time.Duration
	sleep   func(context.Context, time.Duration) error
	say     func(format string, a ...any)
}

// call describes one request.
type call struct {
	method, path string
	body         any               // JSON-encoded when not nil
	out          any               // decoded from a 2xx JSON answer when not nil
	header       map[string]string // extra request headers
	// replicated names the object the request needs, e.g. "app
	// registration", when that object was just created: "not found"
	// answers are then retried along the backoff.
	replicated string
}

// do sends c, retrying as Graph asks, and returns the final status.
func (g *graph) do(ctx context.Context, c call) (int, error) {
	var body []byte
	if c.body != nil {
		var err error
		if body, err = json.Marshal(c.body); err != nil {
			return 0, err
		}
	}
	throttled, step := 0, 0
	var waited time.Duration
	for {
		status, retryAfter, err := g.once(ctx, c, body)
		var gerr *GraphError
		if !errors.As(err, &gerr) {
			return status, err
		}
		var wait time.Duration
		switch {
		case (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && throttled < maxThrottled:
			throttled++
			wait = retryAfter
			if wait <= 0 {
				wait = g.backoff[min(throttled-1, len(g.backoff)-1)]
			}
			wait = min(wait, maxRetryAfter)
			g.say("Microsoft Graph asks to slow down (%d %s): waiting %s before trying %s %s again.", status, gerr.Code, wait, c.method, c.path)
		case c.replicated != "" && gerr.replicating() && step < len(g.backoff):
			wait = g.backoff[step]
			if step == 0 {
				g.say("Microsoft Graph has not replicated the new %s yet: trying again for up to %s.", c.replicated, total(g.backoff))
			}
			step++
			waited += wait
		case c.replicated != "" && gerr.replicating():
			return status, &ReplicationError{What: c.replicated, Waited: waited, Last: gerr}
		default:
			return status, err
		}
		if err := g.sleep(ctx, wait); err != nil {
			return 0, err
		}
	}
}

func total(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

// once sends one request. A Graph error answer is a *GraphError.
func (g *graph) once(ctx context.Context, c call, body []byte) (status int, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, c.method, g.base+c.path, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		// The URL holds no secret; the error says which host failed.
		return 0, 0, fmt.Errorf("calling Microsoft Graph: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, 0, fmt.Errorf("reading Microsoft Graph's answer to %s %s: %w", c.method, c.path, err)
	}
	if resp.StatusCode >= 300 {
		gerr := &GraphError{Method: c.method, Path: c.path, Status: resp.StatusCode}
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			gerr.Code, gerr.Message = e.Error.Code, e.Error.Message
		} else {
			gerr.Code, gerr.Message = http.StatusText(resp.StatusCode), "(no Graph error in the answer)"
		}
		return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After")), gerr
	}
	if c.out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, c.out); err != nil {
			return resp.StatusCode, 0, fmt.Errorf("Microsoft Graph's answer to %s %s is not the JSON expected: %w", c.method, c.path, err)
		}
	}
	return resp.StatusCode, 0, nil
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 when
// absent or unreadable.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// sleepContext waits d, or less if ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isNotFound reports a plain 404 from Graph.
func isNotFound(err error) bool {
	var gerr *GraphError
	return errors.As(err, &gerr) && gerr.Status == http.StatusNotFound
}
