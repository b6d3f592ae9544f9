package bottest

// Language is what the adapters' tests look for in an answer in one
// language. The words come from bot's catalogs; one table here means a change
// of wording is one edit, not one in each adapter's tests.
type Language struct {
	// Telegram and Discord are the language as each platform reports a
	// person's (Discord sends a locale with a region).
	Telegram, Discord string
	// Status is in every /status answer; SlowDown in the note to a person
	// who sends commands too fast.
	Status, SlowDown string
	// Subscribed answers a /subscribe; Capped refuses one to a person who
	// has already subscribed two chats, with a cap of two.
	Subscribed, Capped string
}

// Languages are the languages every adapter answers in.
func Languages() []Language {
	return []Language{
		{
			Telegram: "en", Discord: "en-US",
			Status: "X is", SlowDown: "too fast",
			Subscribed: "Subscribed", Capped: "already subscribed 2 chats, the most one person may",
		},
		{
			Telegram: "fr", Discord: "fr",
			Status: "X est", SlowDown: "trop vite",
			Subscribed: "Abonné", Capped: "déjà abonné 2 discussions, le maximum par personne",
		},
	}
}
