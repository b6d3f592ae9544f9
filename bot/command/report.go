package command

import (
	"context"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/crowd"
	"github.com/xstatusbot/xstatusbot/bot/text"
)

// report records one person's /report and answers with the window's count.
// A kind the bot does not know records nothing. Anyone may report, in any
// chat: the crowd rule, not a permission, keeps one person or one group
// from raising the signal alone.
func (s *Service) report(ctx context.Context, cmd Command) bot.Message {
	kind, ok := text.ParseReportKind(cmd.Args)
	if !ok {
		return text.ReportUsage(cmd.Lang)
	}
	user := cmd.User
	if user == "" { // a channel post: the channel speaks
		user = "chat:" + cmd.Chat.ID
	}
	now := s.now()
	window := s.tally.Rule().Window
	r := bot.Report{User: user, Chat: cmd.Chat, Group: cmd.Group, Kind: kind, At: now}
	added, err := s.reports.AddReport(ctx, &r, window)
	if err != nil {
		s.log.Error("record a report", "err", err, "chat", cmd.Chat.String())
		return text.NoticeMessage(cmd.Lang, text.NoticeFailed)
	}
	if added {
		s.tally.Add(r)
		s.log.Info("report recorded", "chat", cmd.Chat.String(), "kind", kind)
	}
	return text.RenderReport(cmd.Lang, added, s.tally.Count(now), window, crowd.PerGroup)
}

// people is what people reported in the last window, for /status; nothing
// when reports are not taken.
func (s *Service) people() bot.Crowd {
	if s.tally == nil {
		return bot.Crowd{}
	}
	return s.tally.Read(s.now())
}
