package adapterkit

// Discord's message limits, in characters, as its API checks them. They
// live here rather than in the Discord adapter because the webhook adapter
// posts the same embeds to Discord's webhooks, and adapters import no
// adapter.
const (
	DiscordMaxContent          = 2000
	DiscordMaxEmbedTitle       = 256
	DiscordMaxEmbedDescription = 4096
	DiscordMaxEmbedFields      = 25
	DiscordMaxFieldName        = 256
	DiscordMaxFieldValue       = 1024
	DiscordMaxEmbedTotal       = 6000 // title + description + field names and values, across all embeds
)

// TelegramMaxText is Telegram's limit on a message's text, in UTF-16 code
// units after its HTML entities are parsed.
const TelegramMaxText = 4096
