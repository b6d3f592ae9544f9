package discord

import "strings"

// texts are the few answers only the Discord adapter needs. Everything else
// users read comes from package bot; these belong there too (see the report
// of issue 4) and live here until bot exports them.
type texts struct {
	unknown, noChannel, serversOnly, botLacksPermissions, failed string
}

var textsEnglish = texts{
	unknown:             "I don't know that command. Try /help.",
	noChannel:           "Discord did not tell me which channel this is; please try again.",
	serversOnly:         "This command works in a server channel, not in direct messages.",
	botLacksPermissions: "I can't post alerts in this channel yet: give me View Channel, Send Messages, Embed Links and Read Message History here, then run /subscribe again.",
	failed:              "Something went wrong on my side; please try again in a minute.",
}

var textsFrench = texts{
	unknown:             "Je ne connais pas cette commande. Essayez /help.",
	noChannel:           "Discord ne m'a pas dit de quel salon il s'agit ; réessayez.",
	serversOnly:         "Cette commande s'utilise dans un salon de serveur, pas en message privé.",
	botLacksPermissions: "Je ne peux pas encore publier d'alertes dans ce salon : donnez-moi Voir le salon, Envoyer des messages, Intégrer des liens et Voir les anciens messages ici, puis relancez /subscribe.",
	failed:              "Un problème de mon côté ; réessayez dans une minute.",
}

func textFor(lang string) *texts {
	if strings.HasPrefix(strings.ToLower(lang), "fr") {
		return &textsFrench
	}
	return &textsEnglish
}
