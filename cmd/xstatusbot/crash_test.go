package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot/bottest"
	"github.com/xstatusbot/xstatusbot/bot/telegram/telegramtest"
	"github.com/xstatusbot/xstatusbot/probe/fakex"
)

// TestKillDuringFanOut builds the real binary, kills it with SIGKILL in the
// middle of a fan-out to 60 Telegram chats, restarts it on the same database
// and checks every chat gets its alert, and that only sends in flight at the
// moment of death (at most DELIVERY_WORKERS) can have been repeated.
func TestKillDuringFanOut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "xstatusbot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	x, ctrl := fakex.New(), fakex.New()
	defer x.Close()
	defer ctrl.Close()
	tg := telegramtest.Start(t, telegramtest.Options{})
	env := botEnv(t, x, ctrl)
	env["TELEGRAM_BOT_TOKEN"] = telegramtest.DefaultToken
	env["TELEGRAM_API_ENDPOINT"] = tg.Endpoint()
	env["TELEGRAM_RATE_LIMIT"] = "15" // slow enough to kill it halfway
	env["DELIVERY_WORKERS"] = "4"
	env["HTTP_ADDR"] = "off"

	startBin := func() (*exec.Cmd, *bottest.Buffer) {
		cmd := exec.Command(bin)
		cmd.Dir = t.TempDir() // no stray .env
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		logs := &bottest.Buffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, logs
	}

	const chats = 60
	first, logs := startBin()
	defer first.Process.Kill()
	waitFor(t, "telegram connected", func() bool { return strings.Contains(logs.String(), "telegram connected") })
	for i := range chats {
		tg.Private(telegramtest.User{ID: int64(5000 + i)}, "/subscribe")
	}
	waitFor(t, "all subscribed", func() bool { return countAll(tg, chats, "✅") == chats })

	x.Set(fakex.Down503)
	waitFor(t, "part of the fan-out", func() bool { return countAll(tg, chats, "🔴") >= chats/3 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	before := countAll(tg, chats, "🔴")
	if before >= chats {
		t.Fatalf("the fan-out finished before the kill (%d alerts); nothing was tested", before)
	}

	second, logs2 := startBin()
	defer func() {
		_ = second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	}()
	waitFor(t, "the rest of the fan-out", func() bool { return chatsWith(tg, chats, "🔴") == chats })
	rounds := func() int { return strings.Count(logs2.String(), "msg=round ") }
	n := rounds()
	waitFor(t, "three more rounds", func() bool { return rounds() >= n+3 })

	total := countAll(tg, chats, "🔴")
	if dups := total - chats; dups > 4 {
		t.Fatalf("%d duplicate alerts after the kill, want at most 4 (the sends in flight)", dups)
	}
	t.Logf("%d alerts before the kill, %d after the restart, %d duplicates", before, total-before, total-chats)
}

func countAll(tg *telegramtest.Server, chats int, prefix string) int {
	n := 0
	for i := range chats {
		n += countPrefix(tg.SentTo(int64(5000+i)), prefix)
	}
	return n
}

func chatsWith(tg *telegramtest.Server, chats int, prefix string) int {
	n := 0
	for i := range chats {
		if countPrefix(tg.SentTo(int64(5000+i)), prefix) > 0 {
			n++
		}
	}
	return n
}
