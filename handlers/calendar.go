// Calendar: the page that lists the user's next events from Microsoft Graph /me/events, with a token for Calendars.Read that ScopesRequired got.

package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"ms-identity-go-webapp/entra"
)

// calendarQuery is what the page asks /me/events for when CALENDAR_ENDPOINT
// has no query of its own: the properties it shows, the 50 events that
// start last (Graph has no "from now on" for /me/events without $filter),
// of which the page keeps those not yet over.
var calendarQuery = url.Values{
	"$select":  {"subject,start,end,location,bodyPreview,isAllDay"},
	"$orderby": {"start/dateTime desc"},
	"$top":     {"50"},
}

// calendarURL is the URL /calendar calls: endpoint with calendarQuery,
// unless CALENDAR_ENDPOINT brings a query of its own.
func calendarURL(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil && u.RawQuery == "" {
		u.RawQuery = calendarQuery.Encode()
		return u.String()
	}
	return endpoint
}

// maxCalendarEvents is how many events the page lists.
const maxCalendarEvents = 10

// Event is one calendar event, formatted for the page.
type Event struct {
	Subject  string
	When     string // "Mon 2 Mar 2026, 09:00–09:15 UTC"
	Start    string // RFC 3339, for the <time> element
	Location string
	Preview  string
}

// graphEvents is the part of Graph's /me/events answer the page reads.
type graphEvents struct {
	Value []struct {
		Subject     string        `json:"subject"`
		BodyPreview string        `json:"bodyPreview"`
		IsAllDay    bool          `json:"isAllDay"`
		Start       graphDateTime `json:"start"`
		End         graphDateTime `json:"end"`
		Location    struct {
			Name string `json:"displayName"`
		} `json:"location"`
	} `json:"value"`
}

// graphDateTime is Graph's dateTimeTimeZone: a local time without offset,
// and the zone it is in (UTC unless the request asked otherwise).
type graphDateTime struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

// time reads the value; a zone Go does not know (Windows names such as
// "Pacific Standard Time") is read as UTC and named on the page.
func (d graphDateTime) time() (time.Time, string, bool) {
	loc, zone := time.UTC, "UTC"
	if d.TimeZone != "" && !strings.EqualFold(d.TimeZone, "UTC") {
		zone = d.TimeZone
		if l, err := time.LoadLocation(d.TimeZone); err == nil {
			loc = l
		}
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.9999999", d.DateTime, loc)
	return t, zone, err == nil
}

// calendar calls Graph /me/events with the token ScopesRequired got from the
// user's token cache and lists the events that have not ended yet, soonest
// first; Graph's JSON is on the page too, folded.
func (h *Handlers) calendar(w http.ResponseWriter, r *http.Request) error {
	token, ok := entra.TokenFrom(r.Context())
	if !ok {
		return errors.New("handlers: /calendar is served without ScopesRequired")
	}
	endpoint := h.calendarURL
	body, err := h.auth.CallAPI(r, h.calendarAPI, endpoint)
	if err != nil {
		return err
	}
	var answer graphEvents
	if err := json.Unmarshal(body, &answer); err != nil {
		return &entra.APIError{API: h.cfg.Graph.Name, Detail: "Microsoft Graph answered /me/events with something that is not a list of events."}
	}
	pretty, _ := prettyJSON(body) // it parsed above

	type dated struct {
		start time.Time
		event Event
	}
	now := h.now()
	var upcoming []dated
	for _, v := range answer.Value {
		start, zone, ok1 := v.Start.time()
		end, _, ok2 := v.End.time()
		if !ok1 || !ok2 || !end.After(now) {
			continue
		}
		upcoming = append(upcoming, dated{start, Event{
			Subject:  v.Subject,
			When:     eventWhen(start, end, zone, v.IsAllDay),
			Start:    start.Format(time.RFC3339),
			Location: v.Location.Name,
			Preview:  v.BodyPreview,
		}})
	}
	slices.SortStableFunc(upcoming, func(a, b dated) int { return a.start.Compare(b.start) })
	data := h.newTemplateData(r)
	for _, d := range upcoming[:min(len(upcoming), maxCalendarEvents)] {
		data.Events = append(data.Events, d.event)
	}
	data.GraphEndpoint = endpoint
	if readable, err := url.QueryUnescape(endpoint); err == nil {
		data.GraphEndpoint = readable // "$orderby=start/dateTime desc", not "%24orderby=…"
	}
	data.GraphJSON = pretty
	data.Permissions = entra.DescribeScopes(h.cfg.CalendarScopes)
	data.TokenExpiresIn = max(0, int64(token.ExpiresOn.Sub(now)/time.Second))
	return h.render(w, http.StatusOK, "calendar", &data)
}

// eventWhen says when an event takes place, for people.
func eventWhen(start, end time.Time, zone string, allDay bool) string {
	const day = "Mon 2 Jan 2006"
	switch {
	case allDay && !end.After(start.AddDate(0, 0, 1)):
		return start.Format(day) + ", all day"
	case allDay:
		return start.Format(day) + " – " + end.AddDate(0, 0, -1).Format(day) + ", all day"
	case start.YearDay() == end.YearDay() && start.Year() == end.Year():
		return start.Format(day+", 15:04") + "–" + end.Format("15:04") + " " + zone
	}
	return start.Format(day+", 15:04") + " – " + end.Format(day+", 15:04") + " " + zone
}
