// Microsoft Graph's GET /v1.0/me/events: the signed-in user's calendar
// events, with $select, $top, $skip and $orderby as Graph accepts them.

package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event is one calendar event of a user, as a users file lists it.
type Event struct {
	Subject     string    `json:"subject"`
	Start       time.Time `json:"start"` // RFC 3339, e.g. "2025-03-01T09:00:00Z"
	End         time.Time `json:"end"`
	Location    string    `json:"location"`
	BodyPreview string    `json:"body_preview"`
	IsAllDay    bool      `json:"is_all_day"`
}

// calendarScopes are the delegated permissions that allow reading the
// signed-in user's events.
var calendarScopes = []string{"Calendars.Read", "Calendars.ReadBasic", "Calendars.ReadWrite"}

func allowsEvents(scp string) bool {
	for _, s := range strings.Fields(scp) {
		if slices.ContainsFunc(calendarScopes, func(c string) bool { return strings.EqualFold(c, s) }) {
			return true
		}
	}
	return false
}

// defaultEvents are a user's events when the users file lists none: a few
// meetings in the coming days, so a calendar page always has something to
// show. They move with the clock, starting tomorrow.
func defaultEvents(now time.Time) []Event {
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	at := func(days, hour, minute int) time.Time {
		return day.AddDate(0, 0, days).Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
	}
	return []Event{
		{Subject: "Team stand-up", Start: at(0, 9, 0), End: at(0, 9, 15), Location: "Microsoft Teams meeting",
			BodyPreview: "Yesterday, today, blockers."},
		{Subject: "Design review: sign-in flow", Start: at(0, 14, 0), End: at(0, 15, 0), Location: "Room 4.12",
			BodyPreview: "Walk through the account picker and the consent screen."},
		{Subject: "Lunch with the platform team", Start: at(1, 12, 0), End: at(1, 13, 0), Location: "Cafeteria"},
		{Subject: "Quarterly planning", Start: at(6, 10, 0), End: at(6, 12, 0), Location: "Main conference room",
			BodyPreview: "Goals for the next quarter."},
	}
}

// eventProperties are the event properties the emulator returns, in
// Graph's order; $select may name any of them.
var eventProperties = []string{
	"createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "originalStartTimeZone",
	"originalEndTimeZone", "iCalUId", "reminderMinutesBeforeStart", "isReminderOn", "hasAttachments",
	"subject", "bodyPreview", "importance", "sensitivity", "isAllDay", "isCancelled", "isOrganizer",
	"responseRequested", "showAs", "type", "webLink", "isOnlineMeeting", "isDraft",
	"responseStatus", "body", "start", "end", "location", "locations", "attendees", "organizer",
}

// field is one member of a JSON object whose order matters.
type field struct {
	name  string
	value any
}

// object marshals as a JSON object with its members in order, as Graph
// writes them.
type object []field

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.name)
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// graphTime is Graph's dateTimeTimeZone value in UTC.
func graphTime(t time.Time) object {
	return object{{"dateTime", t.UTC().Format("2006-01-02T15:04:05.0000000")}, {"timeZone", "UTC"}}
}

// eventJSON renders ev as Graph's event resource, limited to selected
// properties when $select named some (@odata.etag and id always come).
func eventJSON(u *User, ev Event, selected []string) object {
	sum := sha256.Sum256([]byte(u.OID + "\x00" + ev.Subject + "\x00" + ev.Start.UTC().Format(time.RFC3339)))
	id := "AAMkA" + b64.EncodeToString(sum[:]) + "AAA="
	created := ev.Start.AddDate(0, 0, -7).UTC().Format("2006-01-02T15:04:05.0000000Z")
	organizer := object{{"emailAddress", object{{"name", u.Name}, {"address", u.Username}}}}
	all := map[string]any{
		"createdDateTime":            created,
		"lastModifiedDateTime":       created,
		"changeKey":                  b64.EncodeToString(sum[:12]),
		"categories":                 []string{},
		"originalStartTimeZone":      "UTC",
		"originalEndTimeZone":        "UTC",
		"iCalUId":                    fmt.Sprintf("040000008200E00074C5B7101A82E008%X", sum[:16]),
		"reminderMinutesBeforeStart": 15,
		"isReminderOn":               true,
		"hasAttachments":             false,
		"subject":                    ev.Subject,
		"bodyPreview":                ev.BodyPreview,
		"importance":                 "normal",
		"sensitivity":                "normal",
		"isAllDay":                   ev.IsAllDay,
		"isCancelled":                false,
		"isOrganizer":                true,
		"responseRequested":          true,
		"showAs":                     "busy",
		"type":                       "singleInstance",
		"webLink":                    "https://outlook.office365.com/owa/?itemid=" + url.QueryEscape(id) + "&exvsurl=1&path=/calendar/item",
		"isOnlineMeeting":            false,
		"isDraft":                    false,
		"responseStatus":             object{{"response", "organizer"}, {"time", "0001-01-01T00:00:00Z"}},
		"body":                       object{{"contentType", "text"}, {"content", ev.BodyPreview}},
		"start":                      graphTime(ev.Start),
		"end":                        graphTime(ev.End),
		"location":                   object{{"displayName", ev.Location}, {"locationType", "default"}, {"uniqueIdType", "unknown"}},
		"locations":                  locations(ev.Location),
		"attendees":                  []any{},
		"organizer":                  organizer,
	}
	out := object{{"@odata.etag", `W/"` + b64.EncodeToString(sum[:12]) + `"`}, {"id", id}}
	for _, p := range eventProperties {
		if selected == nil || slices.Contains(selected, p) {
			out = append(out, field{p, all[p]})
		}
	}
	return out
}

func locations(name string) []any {
	if name == "" {
		return []any{}
	}
	return []any{object{{"displayName", name}, {"locationType", "default"}, {"uniqueIdType", "unknown"}}}
}

// eventsQuery is a validated /me/events query.
type eventsQuery struct {
	selected []string // canonical property names; nil = all
	top      int
	skip     int
	orderBy  string // "start", "end" or "subject"
	desc     bool
}

// Graph's default page size for events.
const eventsPageSize = 10

// parseEventsQuery reads the OData options. Graph rejects a malformed
// option with 400 rather than ignoring it, and so does the emulator; the
// options it does not implement ($filter, $expand, ...) are refused by
// name so that nobody mistakes an unfiltered answer for a filtered one.
func parseEventsQuery(q url.Values) (eventsQuery, string, string) {
	eq := eventsQuery{top: eventsPageSize, orderBy: "start"}
	for k, v := range q {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		val := v[0]
		switch strings.ToLower(k) {
		case "$select":
			eq.selected = []string{}
			for _, name := range strings.Split(val, ",") {
				name = strings.TrimSpace(name)
				i := slices.IndexFunc(eventProperties, func(p string) bool { return strings.EqualFold(p, name) })
				switch {
				case strings.EqualFold(name, "id"):
				case i < 0:
					return eq, "RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.event'.", name)
				default:
					eq.selected = append(eq.selected, eventProperties[i])
				}
			}
		case "$top", "$skip":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return eq, "BadRequest", fmt.Sprintf("Invalid value '%s' for %s query option found. The %s query option requires a non-negative integer value.", val, k, k)
			}
			if strings.EqualFold(k, "$top") {
				eq.top = min(n, 1000)
			} else {
				eq.skip = n
			}
		case "$orderby":
			f := strings.Fields(val)
			if len(f) == 0 || len(f) > 2 || (len(f) == 2 && !strings.EqualFold(f[1], "asc") && !strings.EqualFold(f[1], "desc")) {
				return eq, "BadRequest", fmt.Sprintf("Invalid $orderby expression '%s'.", val)
			}
			switch strings.ToLower(f[0]) {
			case "start/datetime":
				eq.orderBy = "start"
			case "end/datetime":
				eq.orderBy = "end"
			case "subject":
				eq.orderBy = "subject"
			default:
				return eq, "BadRequest", fmt.Sprintf("The emulator can order events by start/dateTime, end/dateTime or subject, not '%s'.", f[0])
			}
			eq.desc = len(f) == 2 && strings.EqualFold(f[1], "desc")
		default:
			return eq, "BadRequest", fmt.Sprintf("Query option '%s' is not supported by the Entra ID emulator; it supports $select, $top, $skip and $orderby on /me/events.", k)
		}
	}
	return eq, "", ""
}

func (e *Emulator) handleGraphEvents(w http.ResponseWriter, r *http.Request) {
	if !e.begin(w, r, StatGraphEvents, EndpointGraph) {
		return
	}
	u, c, ok := e.graphCaller(w, r)
	if !ok {
		return
	}
	if !allowsEvents(c.Scp) {
		// Outlook's services answer a token without a calendar
		// permission with this code, not Graph's Authorization_RequestDenied.
		e.graphError(w, r, http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
		return
	}
	eq, code, msg := parseEventsQuery(r.URL.Query())
	if code != "" {
		e.graphError(w, r, http.StatusBadRequest, code, msg)
		return
	}
	events := u.Events
	if events == nil {
		events = defaultEvents(e.now())
	}
	events = slices.Clone(events)
	slices.SortStableFunc(events, func(a, b Event) int {
		var n int
		switch eq.orderBy {
		case "end":
			n = a.End.Compare(b.End)
		case "subject":
			n = strings.Compare(a.Subject, b.Subject)
		default:
			n = a.Start.Compare(b.Start)
		}
		if eq.desc {
			n = -n
		}
		return n
	})
	page := events[min(eq.skip, len(events)):]
	more := eq.top > 0 && len(page) > eq.top
	page = page[:min(eq.top, len(page))]

	context := "https://graph.microsoft.com/v1.0/$metadata#users('" + u.OID + "')/events"
	if eq.selected != nil {
		context += "(" + strings.Join(eq.selected, ",") + ")"
	}
	values := make([]object, 0, len(page))
	for _, ev := range page {
		values = append(values, eventJSON(u, ev, eq.selected))
	}
	body := object{{"@odata.context", context}}
	if more {
		// The next page keeps the query and moves $skip on, as Graph's
		// nextLink does.
		q := r.URL.Query()
		q.Set("$skip", strconv.Itoa(eq.skip+len(page)))
		q.Set("$top", strconv.Itoa(eq.top))
		body = append(body, field{"@odata.nextLink", baseURL(r) + "/v1.0/me/events?" + q.Encode()})
	}
	body = append(body, field{"value", values})
	e.graphHeaders(w, r)
	w.Header().Set("Content-Type", graphContentType)
	writeJSON(w, http.StatusOK, body)
}
