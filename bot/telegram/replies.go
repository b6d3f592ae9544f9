package telegram

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/xstatusbot/xstatusbot/bot"
	"github.com/xstatusbot/xstatusbot/bot/command"
	"github.com/xstatusbot/xstatusbot/bot/delivery"
)

// Replier sends one command answer within the platform's sending budget:
// ahead of alert fan-out, with the per-chat gap, honouring retry_after and
// retrying for a bounded window. *delivery.Gate satisfies it.
type Replier interface {
	Reply(ctx context.Context, chat string, send func(ctx context.Context) error) error
}

var _ Replier = (*delivery.Gate)(nil)

// queueReply queues the answer to a command handled by the poll loop.
func (a *Bot) queueReply(chat, command string, reply bot.Message, threadID int) {
	a.replies.add(chat, func(ctx context.Context) {
		a.replyVia(ctx, chat, command, func(ctx context.Context) error {
			_, err := a.send(ctx, chat, reply, threadID, false)
			return err
		})
	})
}

// queueRendered queues the answer to a read-only command, rendered when the
// chat's budget lets it go (each retry renders it afresh); release is
// called then, so a command asked after that gets an answer of its own.
func (a *Bot) queueRendered(cmd command.Command, release func(), replyTo, threadID int) {
	chat := cmd.Chat.ID
	queued := a.replies.add(chat, func(ctx context.Context) {
		defer release() // also when the answer is never sent
		a.replyVia(ctx, chat, cmd.Name, func(ctx context.Context) error {
			release()
			reply, ok := a.h.Handle(ctx, cmd)
			if !ok {
				return nil
			}
			if replyTo != 0 {
				reply.ReplyTo = strconv.Itoa(replyTo)
			}
			_, err := a.send(ctx, chat, reply, threadID, false)
			return err
		})
	})
	if !queued {
		release()
	}
}

// replyVia sends one answer through the replier (the chat's budget, retries)
// and logs it if it still fails.
func (a *Bot) replyVia(ctx context.Context, chat, command string, send func(context.Context) error) {
	err := a.replier.Reply(ctx, chat, func(ctx context.Context) error {
		err := send(ctx)
		if errors.Is(err, ErrUnauthorized) {
			// The adapter is off until a restart: retrying cannot help.
			return &bot.SendError{Class: bot.Permanent, Err: err}
		}
		return err
	})
	a.replyFailed(ctx, err, chat, command)
}

// replyFailed logs an answer that could not be delivered.
func (a *Bot) replyFailed(ctx context.Context, err error, chat, command string) {
	switch {
	case err == nil:
	case errors.Is(err, ErrUnauthorized):
		// Logged once, when the token was found revoked.
	case ctx.Err() != nil:
		// Shutdown: Run counts what was left.
	case errors.Is(err, bot.ErrDeposed):
		// This replica's term ended: the next leader is given the command again.
		a.log.Info("telegram: command not answered, this replica no longer leads", "chat", chat, "command", command)
	case errors.Is(err, delivery.ErrSendPanicked):
		// The gate recovered it; counted and logged as the worker's own would be.
		a.replies.panicked(err)
	default:
		// The command itself was handled; a lost answer is not worth
		// replaying it. A kicked bot learns it through my_chat_member.
		a.log.Warn("telegram: could not answer a command", "err", err, "chat", chat, "command", command)
	}
}

// replyQueue holds command answers: first in, first out per chat, one
// answer per chat at a time, chats served in the order they arrived (a
// chat with more answers waits behind the others after each one), at most
// as many chats at once as there are workers.
type replyQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	pending map[string][]func(context.Context) // a chat is here while queued or served
	ready   []string                           // chats waiting for a worker
	n       int                                // answers not finished
	idle    chan struct{}                      // closed while n is 0
	stopped bool
	// panicked is told of a panic in one answer's send, which is skipped.
	panicked func(any)
	// dropped is told when the queue starts dropping answers (once per
	// streak); full is set during the streak.
	dropped func()
	full    bool
}

// maxQueued bounds the answers waiting at once (about 7 minutes of answers
// at Telegram's 25 messages/s).
const maxQueued = 10000

func newReplyQueue() *replyQueue {
	q := &replyQueue{pending: map[string][]func(context.Context){}, idle: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	close(q.idle)
	return q
}

// add queues send after the chat's earlier answers. It reports false, and
// drops send, when maxQueued answers are waiting already: past that the
// answers would be minutes late anyway, and memory must stay bounded.
func (q *replyQueue) add(chat string, send func(context.Context)) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n >= maxQueued {
		if !q.full {
			q.full = true
			if q.dropped != nil {
				q.dropped()
			}
		}
		return false
	}
	q.full = false
	if q.n == 0 {
		q.idle = make(chan struct{})
	}
	q.n++
	if _, queued := q.pending[chat]; !queued {
		q.ready = append(q.ready, chat)
		q.cond.Signal()
	}
	q.pending[chat] = append(q.pending[chat], send)
	return true
}

// start runs workers until ctx ends; answers still queued then stay unsent.
func (q *replyQueue) start(ctx context.Context, workers int) *sync.WaitGroup {
	var wg sync.WaitGroup
	context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.stopped = true
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.work(ctx)
		}()
	}
	return &wg
}

func (q *replyQueue) work(ctx context.Context) {
	for {
		q.mu.Lock()
		for len(q.ready) == 0 && !q.stopped {
			q.cond.Wait()
		}
		if q.stopped {
			q.mu.Unlock()
			return
		}
		chat := q.ready[0]
		q.ready = q.ready[1:]
		send := q.pending[chat][0]
		q.mu.Unlock()

		q.run(ctx, send)

		q.mu.Lock()
		if rest := q.pending[chat][1:]; len(rest) > 0 {
			q.pending[chat] = rest
			q.ready = append(q.ready, chat)
			q.cond.Signal()
		} else {
			delete(q.pending, chat)
		}
		q.n--
		if q.n == 0 {
			close(q.idle)
		}
		q.mu.Unlock()
	}
}

// wait blocks until every queued answer is finished or ctx ends.
func (q *replyQueue) wait(ctx context.Context) {
	q.mu.Lock()
	idle := q.idle
	q.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
	}
}

// len is the number of answers not finished.
func (q *replyQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// run sends one answer; a panic in it is reported and the worker goes on.
func (q *replyQueue) run(ctx context.Context, send func(context.Context)) {
	defer func() {
		if p := recover(); p != nil && q.panicked != nil {
			q.panicked(p)
		}
	}()
	send(ctx)
}
