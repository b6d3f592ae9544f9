module github.com/xstatusbot/xstatusbot

go 1.26.8
