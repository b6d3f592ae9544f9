package web

import (
	"strconv"
	"strings"

	"github.com/xstatusbot/xstatusbot/bot/text"
	"github.com/xstatusbot/xstatusbot/probe"
)

// texts are the status page's words in one language. Format strings take
// their arguments in the order the comment gives.
type texts struct {
	lang        string
	title       string
	stateLine   map[probe.State]string // "X is down"
	stateWord   map[probe.State]string // "down", for the bar and incidents
	since       string                 // time, duration
	lastCheck   string                 // time
	noCheck     string
	network     string
	components  string
	ok, failing string
	noComponent string
	uptime      string
	windows     [3]string
	noData      string
	noDataFor   string // duration
	days        string
	daysLabel   string
	daysSummary string // days with downtime, days without data
	dayCell     string // date, state, downtime
	dayNoData   string // date
	legend      string
	incidents   string
	noIncident  string
	ongoing     string // start, duration so far
	closed      string // start, end, duration
	causes      string // with its colon
	updated     string // time
	decimal     string
	otherLang   string
	otherCode   string // the other language's code, for the switch link
	// How often X is checked, and the link preview's words.
	every       string // interval
	ogDownSince string // state line, time: the preview's title during trouble
	// People's reports: the page's own words; those /status and /history
	// share (the reports line, "People's reports", "7 reports") come from
	// bot/text.
	reportedTag   string // the tag of an incident people's reports alone raised
	crowdIncident string // reports in a window: that incident's line
}

var english = texts{
	lang:  "en",
	title: "X (Twitter) status",
	stateLine: map[probe.State]string{
		probe.StateUp: "X is up", probe.StateDegraded: "X is degraded", probe.StateDown: "X is down",
		probe.StateUnknown: "X's state is not known yet",
	},
	stateWord: map[probe.State]string{
		probe.StateUp: "up", probe.StateDegraded: "degraded", probe.StateDown: "down", probe.StateUnknown: "no data",
	},
	since:       "Since %s (%s).",
	lastCheck:   "Last check: %s.",
	noCheck:     "No check has completed yet. This page fills in after the bot's first round.",
	network:     "Warning: the bot's own network fails its control checks, so the last result says nothing about X.",
	components:  "Components",
	ok:          "OK",
	failing:     "Failing",
	noComponent: "No component checked yet.",
	uptime:      "Uptime",
	windows:     [3]string{"Last 24 hours", "Last 7 days", "Last 30 days"},
	noData:      "no data",
	noDataFor:   "no data for %s, left out of the figure",
	days:        "Last 90 days",
	daysLabel:   "One entry per day, oldest first",
	daysSummary: "%d days with downtime, %d days without data.",
	dayCell:     "%s: %s, downtime %s",
	dayNoData:   "%s: no data",
	legend:      "Colours: green up, orange degraded, red down, grey no data.",
	incidents:   "Incidents",
	noIncident:  "No incident recorded.",
	ongoing:     "Ongoing since %s, %s so far.",
	closed:      "%s to %s, lasted %s.",
	causes:      "Causes:",
	updated:     "Page built from the check of %s.",
	decimal:     ".",
	otherLang:   "Français",
	otherCode:   "fr",
	every:       "X is checked every %s.",
	ogDownSince: "%s since %s",

	reportedTag:   "reported",
	crowdIncident: "Reported by people (%s); our probes of the public site saw no failure.",
}

var french = texts{
	lang:  "fr",
	title: "État de X (Twitter)",
	stateLine: map[probe.State]string{
		probe.StateUp: "X fonctionne", probe.StateDegraded: "X fonctionne mal", probe.StateDown: "X est en panne",
		probe.StateUnknown: "L'état de X n'est pas encore connu",
	},
	stateWord: map[probe.State]string{
		probe.StateUp: "en ligne", probe.StateDegraded: "dégradé", probe.StateDown: "en panne", probe.StateUnknown: "pas de données",
	},
	since:       "Depuis le %s (%s).",
	lastCheck:   "Dernière vérification : %s.",
	noCheck:     "Aucune vérification terminée pour l'instant. Cette page se remplit après le premier passage du bot.",
	network:     "Attention : le réseau du bot échoue à ses propres contrôles ; le dernier résultat ne dit rien de X.",
	components:  "Composants",
	ok:          "OK",
	failing:     "En échec",
	noComponent: "Aucun composant vérifié pour l'instant.",
	uptime:      "Disponibilité",
	windows:     [3]string{"Dernières 24 heures", "7 derniers jours", "30 derniers jours"},
	noData:      "pas de données",
	noDataFor:   "pas de données pendant %s, non compté",
	days:        "90 derniers jours",
	daysLabel:   "Une entrée par jour, du plus ancien au plus récent",
	daysSummary: "%d jours avec interruption, %d jours sans données.",
	dayCell:     "%s : %s, interruption %s",
	dayNoData:   "%s : pas de données",
	legend:      "Couleurs : vert en ligne, orange dégradé, rouge en panne, gris pas de données.",
	incidents:   "Incidents",
	noIncident:  "Aucun incident enregistré.",
	ongoing:     "En cours depuis le %s, %s jusqu'ici.",
	closed:      "Du %s au %s, durée %s.",
	causes:      "Causes :",
	updated:     "Page construite à partir de la vérification du %s.",
	decimal:     ",",
	otherLang:   "English",
	otherCode:   "en",
	every:       "X est vérifié toutes les %s.",
	ogDownSince: "%s depuis le %s",

	reportedTag:   "signalé",
	crowdIncident: "Signalé par des utilisateurs (%s) ; nos sondes du site public n'ont vu aucune panne.",
}

// percent writes an uptime figure rounded down, so 99.999 never shows as 100.
func (t *texts) percent(p float64) string {
	p = float64(int64(p*100)) / 100
	s := strconv.FormatFloat(p, 'f', 2, 64)
	if t.decimal != "." {
		s = strings.Replace(s, ".", t.decimal, 1)
		return s + "\u00a0%" // French puts a no-break space before %
	}
	return s + "%"
}

// pickLang chooses the page's language as text.Pick does for every reader.
func pickLang(query, accept string) *texts {
	if text.Pick(query, accept) == "fr" {
		return &french
	}
	return &english
}
