// Package command answers what people type in the chats, whatever the
// platform: subscribing, /status and /history, the per-chat settings (alert
// level, mute, language, reminders), and the per-person limit that keeps one
// person's flood from taking the platform's budget. Adapters translate their
// platform's updates into a Command and send back the Message it returns.
package command

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/crowd"
	"github.com/xstatusbot/xstatusbot/bot/history"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// Command is one command a person sent, as an adapter understood it.
type Command struct {
	Chat bot.ChatRef
	// Kind is the adapter's word for the chat (private, group, server…),
	// stored with the subscription.
	Kind bot.ChatKind
	// Private says the chat is one person's: an unknown command there gets
	// the help instead of silence.
	Private bool
	// AdminOnly says only the chat's admins may change its subscription;
	// IsAdmin is then asked.
	AdminOnly bool
	// Group is the chat's container (Discord guild id), if any.
	Group string
	// Name is the command without slash or @botname, lower case.
	Name string
	// Args is what follows the command ("2h" in "/mute 2h"), trimmed; for a
	// Discord option, its value.
	Args string
	Lang string
	// User is the sender's id on the platform, "chat:<id>" for a post made
	// on behalf of a chat, "" when unknown (a Telegram channel post): the
	// command limit then applies to the chat.
	User string
	// IsAdmin tells whether the sender may manage this chat. It is called only
	// when a subscription changes in an AdminOnly chat, so adapters can make
	// the platform call lazily. Nil means "not an admin".
	IsAdmin func(ctx context.Context) (bool, error)
}

// Names are the commands the bot knows, in menu order.
var Names = []string{"subscribe", "unsubscribe", "status", "report", "history", "settings", "alerts", "mute", "unmute", "language", "remind", "help"}

// HistoryLimit is how many incidents /history lists.
const HistoryLimit = 10

// AdminOnly reports whether a command changes a chat's subscription or
// its settings: the same people may do both.
func AdminOnly(name string) bool {
	return name == "subscribe" || name == "unsubscribe" || ChangesSettings(name)
}

// Service answers commands and records membership events.
type Service struct {
	subs  bot.SubscriptionStore
	state interface {
		Load(ctx context.Context) (bot.Saved, error)
	}
	// history is the state store when it also keeps history, else nil:
	// /status then shows no uptime and /history cannot answer.
	history bot.HistoryStore
	// board is the in-memory board, read first when it has one.
	board func() *bot.Board
	// regions is the last vote's breakdown of the vantage points.
	regions func() []bot.RegionVerdict
	// live is the monitor's state in memory, read by /status instead of
	// the store when set.
	live interface{ Snapshot() bot.Saved }
	// langs remembers chats' languages for a while, so a burst of commands
	// does not read the store per command.
	langs *langCache
	// reports keeps people's /report and tally counts them; nil: /report
	// is not offered.
	reports bot.ReportStore
	tally   *crowd.Tally
	// maxSubs caps the chats one person may subscribe per platform (0: no cap).
	maxSubs int
	now     func() time.Time
	log     *slog.Logger
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// WithBoard lets /status and /history answer from the published board
// (Publisher.Board) instead of reading history from the store.
func WithBoard(board func() *bot.Board) ServiceOption { return func(s *Service) { s.board = board } }

// WithRegions lets /status say what each vantage point saw when they
// disagree (Monitor.Regions).
func WithRegions(regions func() []bot.RegionVerdict) ServiceOption {
	return func(s *Service) { s.regions = regions }
}

// WithLiveState lets /status answer from the monitor's state in memory
// (Monitor.Snapshot) instead of loading it from the store per command.
func WithLiveState(live interface{ Snapshot() bot.Saved }) ServiceOption {
	return func(s *Service) { s.live = live }
}

// WithReports lets people report what fails for them (/report): reports
// are stored, one per person per window, and counted by tally, which the
// monitor reads each round.
func WithReports(store bot.ReportStore, tally *crowd.Tally) ServiceOption {
	return func(s *Service) { s.reports, s.tally = store, tally }
}

// WithSubscriptionCap caps the chats one person may subscribe on a platform;
// 0 or less means no cap. It needs a store that is a SubscriptionCounter.
func WithSubscriptionCap(n int) ServiceOption { return func(s *Service) { s.maxSubs = n } }

// NewService builds the command service. Uptime and /history come from the
// board when one is published, else from state when it is a HistoryStore.
func NewService(subs bot.SubscriptionStore, state bot.StateStore, now func() time.Time, log *slog.Logger, opts ...ServiceOption) *Service {
	s := &Service{subs: subs, state: state, now: now, log: log, board: func() *bot.Board { return nil },
		regions: func() []bot.RegionVerdict { return nil }, langs: newLangCache(langTTL)}
	s.history, _ = state.(bot.HistoryStore)
	for _, o := range opts {
		o(s)
	}
	return s
}

// Handle answers a command. ok is false when the bot should stay silent:
// unknown commands outside private chats are ignored.
func (s *Service) Handle(ctx context.Context, cmd Command) (reply bot.Message, ok bool) {
	name := strings.ToLower(strings.TrimPrefix(cmd.Name, "/"))
	if ignored(cmd) {
		return bot.Message{}, false // an unknown command in a shared chat: silence, no store read
	}
	if name != "subscribe" && name != "unsubscribe" && name != "report" {
		// A report's answer is the reporter's alone: it keeps their language.
		cmd.Lang = s.chatLang(ctx, cmd)
	}
	if AdminOnly(name) {
		// The chat's subscription or language may change: read it afresh next time.
		defer s.langs.forget(cmd.Chat)
	}
	switch name {
	case "start", "help":
		return text.HelpMessage(cmd.Lang), true
	case "status":
		saved, err := s.saved(ctx)
		if err != nil {
			s.log.Error("load state for /status", "err", err, "chat", cmd.Chat.String())
			return text.NoticeMessage(cmd.Lang, text.NoticeFailed), true
		}
		return text.RenderStatus(cmd.Lang, saved, s.uptimes(ctx, cmd.Chat), s.regions(), s.people(), s.every(), s.now()), true
	case "report":
		if s.reports == nil {
			break
		}
		return s.report(ctx, cmd), true
	case "history":
		incidents, err := s.incidents(ctx)
		if err != nil {
			s.log.Error("load incidents for /history", "err", err, "chat", cmd.Chat.String())
			return text.NoticeMessage(cmd.Lang, text.NoticeFailed), true
		}
		return text.RenderHistory(cmd.Lang, incidents, s.now()), true
	case "subscribe", "unsubscribe":
		return s.changeSubscription(ctx, cmd, name == "subscribe"), true
	default:
		if name == settingsName || ChangesSettings(name) {
			return s.settings(ctx, cmd, name), true
		}
	}
	if cmd.Private {
		help := text.HelpMessage(cmd.Lang)
		help.Title = text.For(cmd.Lang).UnknownCommand + " " + help.Title
		help.Private = true
		return help, true
	}
	return bot.Message{}, false
}

// chatLang is a subscribed chat's language (set at /subscribe, changed by
// /language), else the asker's. Subscription answers keep the asker's: they
// are about the subscription itself.
func (s *Service) chatLang(ctx context.Context, cmd Command) string {
	store, ok := s.subs.(bot.SettingsStore)
	if !ok {
		return cmd.Lang
	}
	lang, known := s.langs.get(cmd.Chat, s.now())
	if !known {
		cs, subscribed, err := store.Settings(ctx, cmd.Chat)
		if err != nil {
			s.log.Warn("read the chat's language; answering in the asker's", "err", err, "chat", cmd.Chat.String())
			return cmd.Lang
		}
		if subscribed {
			lang = cs.Lang
		}
		s.langs.put(cmd.Chat, lang, s.now())
	}
	if lang != "" {
		return lang
	}
	return cmd.Lang
}

// uptimes are the board's uptime figures, else the store's; nil when neither
// can tell (the status is still worth answering without them).
func (s *Service) uptimes(ctx context.Context, chat bot.ChatRef) *bot.Uptimes {
	if b := s.board(); b != nil {
		return &bot.Uptimes{H24: b.Uptime24h, D7: b.Uptime7d, D30: b.Uptime30d}
	}
	if s.history == nil {
		return nil
	}
	now := s.now()
	spans, err := s.history.Spans(ctx, now.Add(-history.Window30d), now)
	if err != nil {
		s.log.Warn("load uptime for /status; answering without it", "err", err, "chat", chat.String())
		return nil
	}
	u := history.UptimesOf(spans, now)
	return &u
}

// incidents are the latest incidents for /history, newest first.
func (s *Service) incidents(ctx context.Context) ([]bot.Incident, error) {
	if b := s.board(); b != nil {
		return b.Incidents[:min(len(b.Incidents), HistoryLimit)], nil
	}
	if s.history == nil {
		return nil, errors.New("this store keeps no history")
	}
	return s.history.Incidents(ctx, HistoryLimit)
}

// mayManage tells whether the sender may change the chat's subscription and
// settings; when not, refusal is the answer.
func (s *Service) mayManage(ctx context.Context, cmd Command) (refusal bot.Message, ok bool) {
	if !cmd.AdminOnly {
		return bot.Message{}, true
	}
	admin := false
	if cmd.IsAdmin != nil {
		var err error
		if admin, err = cmd.IsAdmin(ctx); err != nil {
			s.log.Warn("check admin", "err", err, "chat", cmd.Chat.String())
			return text.NoticeMessage(cmd.Lang, text.NoticeFailed), false
		}
	}
	if !admin {
		return text.Private(text.For(cmd.Lang).AdminOnly), false
	}
	return bot.Message{}, true
}

func (s *Service) changeSubscription(ctx context.Context, cmd Command, subscribe bool) bot.Message {
	c := text.For(cmd.Lang)
	if refusal, ok := s.mayManage(ctx, cmd); !ok {
		return refusal
	}
	if subscribe {
		if refusal, ok := s.underCap(ctx, cmd); !ok {
			return refusal
		}
		created, err := s.subs.Subscribe(ctx, bot.Subscription{
			Chat: cmd.Chat, Kind: cmd.Kind, Group: cmd.Group, Lang: cmd.Lang, CreatedAt: s.now(), By: cmd.User,
		})
		if err != nil {
			s.log.Error("subscribe", "err", err, "chat", cmd.Chat.String())
			return text.NoticeMessage(cmd.Lang, text.NoticeFailed)
		}
		if !created {
			return text.Private(c.AlreadySubscribed)
		}
		s.log.Info("subscribed", "chat", cmd.Chat.String(), "kind", cmd.Kind)
		return text.Private(c.Subscribed)
	}
	removed, err := s.subs.Unsubscribe(ctx, cmd.Chat)
	if err != nil {
		s.log.Error("unsubscribe", "err", err, "chat", cmd.Chat.String())
		return text.NoticeMessage(cmd.Lang, text.NoticeFailed)
	}
	if !removed {
		return text.Private(c.NotSubscribed)
	}
	s.log.Info("unsubscribed", "chat", cmd.Chat.String())
	return text.Private(c.Unsubscribed)
}

// ChatGone ends the subscription of a chat that removed, kicked or blocked the bot.
func (s *Service) ChatGone(ctx context.Context, chat bot.ChatRef) error {
	defer s.langs.forget(chat)
	removed, err := s.subs.Unsubscribe(ctx, chat)
	if removed {
		s.log.Info("chat removed the bot; subscription ended", "chat", chat.String())
	}
	return err
}

// GroupGone ends every subscription of a server the bot was removed from.
func (s *Service) GroupGone(ctx context.Context, p bot.Platform, group string) error {
	defer s.langs.forgetAll()
	n, err := s.subs.UnsubscribeGroup(ctx, p, group)
	if n > 0 {
		s.log.Info("bot left a server; subscriptions ended", "platform", p, "group", group, "count", n)
	}
	return err
}

// ChatMigrated keeps a subscription when a chat changes id.
func (s *Service) ChatMigrated(ctx context.Context, from, to bot.ChatRef) error {
	defer s.langs.forget(from)
	defer s.langs.forget(to)
	if err := s.subs.MigrateChat(ctx, from, to); err != nil {
		return err
	}
	s.log.Info("chat migrated", "chat", from.String(), "to", to.String())
	return nil
}
