// The customer page in the customer's language. Each language is one plain object of texts;
// a text may hold named placeholders ({name}) filled by t(). Static markup names its texts with
// data attributes (data-i18n for the text, data-i18n-<attribute> for aria-label, placeholder,
// alt, title); translatePage() fills them, and say() marks an element the same way, so that
// switching language re-renders what the script has shown as well.
//
// Server refusals come as {code, message}: serverError() picks the page's own text for a known
// code and falls back to the server's English message for an unknown one.
//
// To add a language: add its object below with exactly the keys of `en` (the browser tests
// compare them), and a line in LANGUAGES. See docs/customer-page.md. The agent console's, the
// trainer library's and the admin integrations' texts live in modules of their own
// (i18n-agent.js, i18n-trainer.js, i18n-integrations.js) and are merged in here.
import { agentEn, agentFr } from "/static/shared/i18n-agent.js";
import { integrationsEn, integrationsFr } from "/static/shared/i18n-integrations.js";
import { trainerEn, trainerFr } from "/static/shared/i18n-trainer.js";

const en = {
  "page.title": "Get help",
  "language.label": "Language",

  "start.heading": "Video help",
  "start.title": "Talk to a person, face to face",
  "start.intro": "An agent will see what your camera or screen shows and guide you.",
  "start.topic": "What do you need help with?",
  "start.optional": "(optional)",
  "start.chooseTopic": "Choose a topic",
  "start.describe": "Describe it in a few words",
  "start.help": "Get help",
  "start.full": "All our agents are busy and the line is full right now.",
  "start.leaveCallback": "Leave a callback request",

  "waiting.title": "You're in line",
  "waiting.position": "Your place in line:",
  "waiting.cameraWhy": "Your browser will ask for your camera and microphone: the agent needs them to see what you see and talk with you.",
  "waiting.selfView": "Your camera, as the agent will see it",
  "hours.closed": "Closed right now. Open {hours}, {timezone}.",
  "brand.logo": "Company logo",
  "waiting.cameraOff": "Your camera and microphone stay off while you wait; they start when an agent answers.",
  "waiting.checkCamera": "Check my camera",
  "waiting.hideCamera": "Turn my camera off",
  "live.agentCameraOff": "The agent's camera is off.",
  "waiting.callback": "Call me back instead",
  "waiting.cancel": "Cancel",
  "queue.estimate": "Estimated wait: {wait}.",
  "queue.noAgents": "No agents are available right now. Stay in line and we'll connect you as soon as one is.",
  "queue.answering": "An agent is answering…",
  "queue.free": "An agent is free: connecting you now.",
  "queue.underMinute": "Expected wait: less than a minute.",
  "queue.upTo": "Expected wait: up to {high} minutes.",
  "queue.about": "Expected wait: about {count} minutes.",
  "queue.range": "Expected wait: about {low} to {high} minutes.",
  "recording.ask": "May we record this call? The call goes on either way.",
  "recording.yes": "Yes, record",
  "recording.no": "No",
  "recording.on": "This call is being recorded.",
  "recording.paused": "Recording is paused.",
  "recording.off": "This call is not recorded.",
  "supervision.joined": "A supervisor joined the call and can hear you.",
  "supervision.left": "The supervisor left the call.",
  "wait.underMinute": "less than a minute",
  "wait.oneMinute": "about 1 minute",
  "wait.minutes": "about {count} minutes",
  "callback.note": "We will call you back when it is your turn. Keep this page open, or come back later with this link: {link}",

  "live.with": "Connected with",
  "live.anAgent": "an agent",
  "live.preview": "What you are sharing, with the agent's marks",
  "live.remote": "Agent video",
  "live.still": "The frozen picture the agent is pointing at",
  "status.connecting": "Connecting video…",
  "status.connected": "Connected.",
  "status.live": "Live video.",
  "status.frozen": "The agent froze the picture to point something out.",
  "status.photoSent": "Photo sent to the agent.",
  "status.agentChanged": "You are now talking to {name}.",
  "status.agentDropped": "The agent's connection dropped. Please stay: they have {seconds} seconds to come back.",
  "status.agentBack": "The agent is back. Reconnecting the video…",
  "status.mediaMoved": "Reconnecting the video…",
  "source.screen": "The agent asks you to share your screen.",
  "source.camera": "The agent asks you to switch back to your camera.",
  "source.camera_back": "The agent asks you to use your back camera.",
  "source.camera_front": "The agent asks you to use your front camera.",
  "source.other": "The agent asks you to change what you share.",
  "source.accept": "OK",
  "source.decline": "Not now",
  "call.shareScreen": "Share my screen",
  "call.useCamera": "Use my camera",
  "call.muteMic": "Mute mic",
  "call.unmuteMic": "Unmute mic",
  "call.stopVideo": "Stop my video",
  "call.startVideo": "Start my video",
  "call.flip": "Switch front/back camera",
  "call.sendPhoto": "Send a photo",
  "call.photoFile": "Photo to send",
  "call.hangup": "Hang up",

  "chat.title": "Chat",
  "chat.rtt": "Real-time text: the agent sees what I type as I type (for people who cannot speak or hear)",
  "chat.log": "Chat messages",
  "chat.message": "Message",
  "chat.placeholder": "Type a message",
  "chat.send": "Send",
  "chat.you": "You",
  "chat.customer": "Customer",
  "chat.said": ": {text}",
  "chat.typing": "Typing: {text}",

  "ended.title": "Call ended",
  "ended.again": "Get help again",
  "csat.title": "How was your call?",
  "csat.legend": "Your rating, from 1 (poor) to 5 (excellent)",
  "csat.1": "1 – poor",
  "csat.2": "2",
  "csat.3": "3",
  "csat.4": "4",
  "csat.5": "5 – excellent",
  "csat.comment": "Anything to add? (optional)",
  "csat.send": "Send",
  "csat.skip": "Skip",
  "csat.pick": "Choose a rating from 1 to 5, or skip.",
  "csat.thanks": "Thank you for your answer.",
  "csat.failed": "Your answer could not be sent.",
  "end.customer_hung_up": "You ended the call.",
  "end.agent_hung_up": "The agent ended the call.",
  "end.agent_disconnected": "The agent's connection was lost.",
  "end.agent_signed_out": "The agent had to leave the call.",
  "end.customer_disconnected": "Your connection was lost during the call.",
  "end.media_failed": "The video connection failed. Please try again.",
  "end.server_shutdown": "The service is restarting. Please try again in a minute.",
  "end.server_restart": "The service restarted during your call. Please try again.",
  "end.callback_not_joined": "We called you back but could not reach you.",
  "end.cancelled": "You left the line.",
  "end.customer_left": "You were away too long and lost your place in line.",
  "end.other": "The call has ended.",

  "msg.left": "You left the line.",
  "msg.replaced": "Your request is open in another tab or window; continue there, or reload this page to continue here.",
  "msg.reconnecting": "Connection lost. Trying to reconnect; you keep your place in line…",
  "msg.reconnectingCall": "Connection lost. Trying to reconnect; your call continues when you are back…",
  "msg.unreachable": "We could not reach the help service: {message}",
  "msg.transferred": "You are being transferred to another team. Please stay in line.",
  "msg.moved": "We moved you to another team that can help sooner.",
  "msg.callbackSuggested": "This is taking longer than usual. You can ask us to call you back and keep your place.",
  "camera.blocked": "Camera and microphone access is blocked. Allow it for this site in your browser settings, then tap Get help again.",
  "camera.notFound": "No camera or microphone was found on this device.",
  "camera.insecure": "This page was opened over plain HTTP, so your browser will not let it use your camera or microphone. Open it with an address that starts with https:// (the people who run this service can give it to you).",
  "camera.failed": "Your camera could not be started ({name}).",
  "camera.switchFailed": "That camera could not be started.",
  "screen.notStarted": "Screen sharing was not started.",
  "media.failed": "The video connection failed. Check your network and try again.",
  "media.setupFailed": "The video connection could not be set up.",
  "photo.failed": "The photo could not be sent.",
  "tap.failed": "Help is not available right now.",
  "tap.offline": "We could not reach the help service. Check your connection and try again.",
  "tap.retrying": "Still trying to reach the help service…",
  "error.unexpected": "{message}",

  // Refusals by code: server.<where>.<code> for a request of one kind (tap, photo, ack,
  // connect), server.<code> for any. Codes are listed in docs/protocol.md and docs/openapi.yaml.
  "server.unknown": "{message}",
  "server.internal": "Something went wrong on our side. Please try again.",
  "server.http_error": "The service could not handle this request. Reload the page and try again.",
  "server.bad_request": "The service could not handle this request. Reload the page and try again.",
  "server.unsupported_media_type": "The service could not read what the page sent. Reload the page and try again.",
  "server.invalid": "The service could not read what the page sent. Reload the page and try again.",
  "server.unknown_event": "The service could not read what the page sent. Reload the page and try again.",
  "server.bad_origin": "Requests from another site are not accepted.",
  "server.rate_limited": "Too many actions at once. Please slow down a little.",
  "server.timeout": "The service did not answer in time. Check your connection and try again.",
  "server.unavailable": "The service is restarting. Please try again in a minute.",
  "server.forbidden": "You are no longer in this call.",
  "server.not_found": "Your help request or your call no longer exists. Reload the page.",
  "server.illegal_transition": "That is not possible at this point of your request.",
  "server.unauthenticated": "Your help request has expired. Reload the page.",
  "server.too_large": "What you sent is too large.",
  "server.unsupported_type": "Send a JPEG, PNG or WebP image.",
  "server.not_an_image": "This file is not an image we can read. Choose a JPEG, PNG or WebP photo.",
  "server.encode_failed": "The picture could not be stored. Please try again.",
  "server.no_session": "This call has ended.",
  "server.bad_offer": "The video connection could not be set up. Reload the page and try again.",
  "server.bad_candidate": "The video connection could not be set up. Reload the page and try again.",
  "server.media_busy": "The service has no room for another video call right now. Please try again in a few minutes.",
  "server.too_many": "This chat is full: no more messages can be sent in this call.",
  "server.conflict": "That is no longer possible: the call has moved on in the meantime.",
  "server.incomplete": "What the page sent was cut short. Check your connection and try again.",
  "server.not_supported": "This service does not offer that.",
  "server.tap.invalid": "Your request could not be read. Check the topic and the description, then try again.",
  "server.tap.invalid_topic": "This topic is not offered. Choose another one from the list.",
  "server.tap.invalid_description": "The description is too long. Shorten it and try again.",
  "server.tap.too_large": "Your request is too long. Shorten the description and try again.",
  "server.tap.queue_full": "All our agents are busy and the line is full. Leave a callback request and we will call you back.",
  "server.tap.closed": "We are closed right now. Please come back during our opening hours.",
  "server.tap.identity_required": "Please sign in to the app you came from, then ask for help again.",
  "server.tap.invalid_context": "The app sent details we could not read. Please try again from the app.",
  "server.tap.active_ticket": "This device already has an open help request, perhaps in another tab. Continue there, or cancel it before asking again.",
  "server.tap.rate_limited": "Too many help requests. Please wait a little, then try again.",
  "server.tap.rate_limited_wait": "Too many help requests. Please try again in {seconds}\u00a0s.",
  "server.tap.illegal_transition": "Your request could not be created. Please try again.",
  "server.tap.request_ended": "This help request has already ended. Tap Help again for a new one.",
  "server.photo.forbidden": "You are no longer in this call, so the photo was not sent.",
  "server.photo.too_large": "This photo is too large. Choose a smaller one.",
  "server.photo.too_large_limit": "This photo is too large (at most {megabytes}\u00a0MB). Choose a smaller one.",
  "server.photo.no_session": "The call has ended, so the photo was not sent.",
  "server.connect.unavailable": "The service has stopped. Please try again in a minute.",
  "server.connect.not_found": "Your place in line could not be kept. Please ask for help again.",
  "server.connect.illegal_transition": "Your place in line could not be kept. Please ask for help again.",
  ...trainerEn,
  ...agentEn,
  ...integrationsEn,
};

// French: vouvoiement. Write a plain space before ? ! : ; and inside « »; french() puts the
// non-breaking spaces French typography wants there.
const fr = french({
  "page.title": "Obtenir de l’aide",
  "language.label": "Langue",

  "start.heading": "Aide en vidéo",
  "start.title": "Parlez à une personne, face à face",
  "start.intro": "Un conseiller verra ce que montre votre caméra ou votre écran, et vous guidera.",
  "start.topic": "Sur quoi porte votre demande ?",
  "start.optional": "(facultatif)",
  "start.chooseTopic": "Choisissez un sujet",
  "start.describe": "Décrivez le problème en quelques mots",
  "start.help": "Obtenir de l’aide",
  "start.full": "Tous nos conseillers sont occupés et la file d’attente est complète pour le moment.",
  "start.leaveCallback": "Demander un rappel",

  "waiting.title": "Vous êtes dans la file d’attente",
  "waiting.position": "Votre position dans la file :",
  "waiting.cameraWhy": "Votre navigateur va vous demander l’accès à votre caméra et à votre micro : le conseiller en a besoin pour voir ce que vous voyez et pour vous parler.",
  "waiting.selfView": "Votre caméra, telle que le conseiller la verra",
  "hours.closed": "Fermé pour le moment. Ouvert {hours}, {timezone}.",
  "brand.logo": "Logo de l’entreprise",
  "waiting.cameraOff": "Votre caméra et votre micro restent éteints pendant l’attente ; ils s’allument quand un conseiller répond.",
  "waiting.checkCamera": "Vérifier ma caméra",
  "waiting.hideCamera": "Éteindre ma caméra",
  "live.agentCameraOff": "La caméra du conseiller est éteinte.",
  "waiting.callback": "Rappelez-moi plutôt",
  "waiting.cancel": "Annuler",
  "queue.estimate": "Attente estimée : {wait}.",
  "queue.noAgents": "Aucun conseiller n’est disponible pour le moment. Restez dans la file : nous vous mettrons en relation dès que l’un d’eux se libérera.",
  "queue.answering": "Un conseiller vous répond…",
  "queue.free": "Un conseiller est disponible : mise en relation en cours.",
  "queue.underMinute": "Attente prévue : moins d’une minute.",
  "queue.upTo": "Attente prévue : jusqu’à {high} minutes.",
  "queue.about": "Attente prévue : environ {count} minutes.",
  "queue.range": "Attente prévue : entre {low} et {high} minutes environ.",
  "recording.ask": "Pouvons-nous enregistrer cet appel ? L’appel continue dans tous les cas.",
  "recording.yes": "Oui, enregistrer",
  "recording.no": "Non",
  "recording.on": "Cet appel est enregistré.",
  "recording.paused": "L’enregistrement est en pause.",
  "recording.off": "Cet appel n’est pas enregistré.",
  "supervision.joined": "Un superviseur a rejoint l’appel et vous entend.",
  "supervision.left": "Le superviseur a quitté l’appel.",
  "wait.underMinute": "moins d’une minute",
  "wait.oneMinute": "environ 1 minute",
  "wait.minutes": "environ {count} minutes",
  "callback.note": "Nous vous rappellerons quand ce sera votre tour. Gardez cette page ouverte, ou revenez plus tard avec ce lien : {link}",

  "live.with": "En ligne avec",
  "live.anAgent": "un conseiller",
  "live.preview": "Ce que vous partagez, avec les annotations du conseiller",
  "live.remote": "Vidéo du conseiller",
  "live.still": "L’image figée que le conseiller vous montre",
  "status.connecting": "Connexion de la vidéo…",
  "status.connected": "Connexion établie.",
  "status.live": "Vidéo en direct.",
  "status.frozen": "Le conseiller a figé l’image pour vous montrer quelque chose.",
  "status.photoSent": "Photo envoyée au conseiller.",
  "status.agentChanged": "Vous parlez maintenant avec {name}.",
  "status.agentDropped": "La connexion de l’agent a été coupée. Restez en ligne : il a {seconds} secondes pour revenir.",
  "status.agentBack": "L’agent est de retour. Reconnexion de la vidéo…",
  "status.mediaMoved": "Reconnexion de la vidéo…",
  "source.screen": "Le conseiller vous demande de partager votre écran.",
  "source.camera": "Le conseiller vous demande de revenir à votre caméra.",
  "source.camera_back": "Le conseiller vous demande d’utiliser votre caméra arrière.",
  "source.camera_front": "Le conseiller vous demande d’utiliser votre caméra avant.",
  "source.other": "Le conseiller vous demande de changer ce que vous partagez.",
  "source.accept": "D’accord",
  "source.decline": "Pas maintenant",
  "call.shareScreen": "Partager mon écran",
  "call.useCamera": "Utiliser ma caméra",
  "call.muteMic": "Couper le micro",
  "call.unmuteMic": "Rétablir le micro",
  "call.stopVideo": "Couper ma vidéo",
  "call.startVideo": "Rétablir ma vidéo",
  "call.flip": "Basculer entre caméra avant et arrière",
  "call.sendPhoto": "Envoyer une photo",
  "call.photoFile": "Photo à envoyer",
  "call.hangup": "Raccrocher",

  "chat.title": "Discussion",
  "chat.rtt": "Texte en temps réel : le conseiller voit ce que j’écris au fur et à mesure (pour les personnes qui ne peuvent pas parler ou entendre)",
  "chat.log": "Messages de la discussion",
  "chat.message": "Message",
  "chat.placeholder": "Écrivez un message",
  "chat.send": "Envoyer",
  "chat.you": "Vous",
  "chat.customer": "Client",
  "chat.said": " : {text}",
  "chat.typing": "En train d’écrire : {text}",

  "ended.title": "Appel terminé",
  "ended.again": "Demander à nouveau de l’aide",
  "csat.title": "Comment s’est passé votre appel ?",
  "csat.legend": "Votre note, de 1 (mauvais) à 5 (excellent)",
  "csat.1": "1 – mauvais",
  "csat.2": "2",
  "csat.3": "3",
  "csat.4": "4",
  "csat.5": "5 – excellent",
  "csat.comment": "Un commentaire ? (facultatif)",
  "csat.send": "Envoyer",
  "csat.skip": "Passer",
  "csat.pick": "Choisissez une note de 1 à 5, ou passez.",
  "csat.thanks": "Merci pour votre réponse.",
  "csat.failed": "Votre réponse n’a pas pu être envoyée.",
  "end.customer_hung_up": "Vous avez mis fin à l’appel.",
  "end.agent_hung_up": "Le conseiller a mis fin à l’appel.",
  "end.agent_disconnected": "La connexion du conseiller a été perdue.",
  "end.agent_signed_out": "Le conseiller a dû quitter l'appel.",
  "end.customer_disconnected": "Votre connexion a été perdue pendant l’appel.",
  "end.media_failed": "La connexion vidéo a échoué. Veuillez réessayer.",
  "end.server_shutdown": "Le service redémarre. Veuillez réessayer dans une minute.",
  "end.server_restart": "Le service a redémarré pendant votre appel. Veuillez réessayer.",
  "end.callback_not_joined": "Nous vous avons rappelé, mais nous n’avons pas pu vous joindre.",
  "end.cancelled": "Vous avez quitté la file d’attente.",
  "end.customer_left": "Votre absence a duré trop longtemps : vous avez perdu votre place dans la file.",
  "end.other": "L’appel est terminé.",

  "msg.left": "Vous avez quitté la file d’attente.",
  "msg.replaced": "Votre demande est ouverte dans un autre onglet ou une autre fenêtre ; continuez-la là-bas, ou rechargez cette page pour la reprendre ici.",
  "msg.reconnecting": "Connexion perdue. Nouvelle tentative en cours ; vous gardez votre place dans la file…",
  "msg.reconnectingCall": "Connexion perdue. Nouvelle tentative en cours ; votre appel reprend dès votre retour…",
  "msg.unreachable": "Impossible de joindre le service d’aide : {message}",
  "msg.transferred": "Nous vous transférons vers une autre équipe. Merci de rester dans la file.",
  "msg.moved": "Une autre équipe, disponible plus tôt, va prendre en charge votre demande.",
  "msg.callbackSuggested": "L’attente est plus longue que d’habitude. Vous pouvez nous demander de vous rappeler, sans perdre votre place.",
  "camera.blocked": "L’accès à la caméra et au micro est bloqué. Autorisez-le pour ce site dans les réglages de votre navigateur, puis appuyez à nouveau sur « Obtenir de l’aide ».",
  "camera.notFound": "Aucune caméra ni aucun micro n’a été trouvé sur cet appareil.",
  "camera.insecure": "Cette page a été ouverte en HTTP simple : votre navigateur ne la laissera pas utiliser votre caméra ni votre micro. Ouvrez-la avec une adresse qui commence par https:// (le service qui vous accueille peut vous la donner).",
  "camera.failed": "Votre caméra n’a pas pu être démarrée ({name}).",
  "camera.switchFailed": "Cette caméra n’a pas pu être démarrée.",
  "screen.notStarted": "Le partage d’écran n’a pas démarré.",
  "media.failed": "La connexion vidéo a échoué. Vérifiez votre réseau et réessayez.",
  "media.setupFailed": "La connexion vidéo n’a pas pu être établie.",
  "photo.failed": "La photo n’a pas pu être envoyée.",
  "tap.failed": "L’aide n’est pas disponible pour le moment.",
  "tap.offline": "Impossible de joindre le service d’aide. Vérifiez votre connexion et réessayez.",
  "tap.retrying": "Nous essayons encore de joindre le service d’aide…",
  "error.unexpected": "Une erreur inattendue s’est produite ({message}).",

  "server.unknown": "Le service a répondu (en anglais) : « {message} »",
  "server.internal": "Un problème est survenu de notre côté. Veuillez réessayer.",
  "server.http_error": "Le service n’a pas pu traiter cette demande. Rechargez la page et réessayez.",
  "server.bad_request": "Le service n’a pas pu traiter cette demande. Rechargez la page et réessayez.",
  "server.unsupported_media_type": "Le service n’a pas compris ce que la page a envoyé. Rechargez la page et réessayez.",
  "server.invalid": "Le service n’a pas compris ce que la page a envoyé. Rechargez la page et réessayez.",
  "server.unknown_event": "Le service n’a pas compris ce que la page a envoyé. Rechargez la page et réessayez.",
  "server.bad_origin": "Les demandes venant d’un autre site ne sont pas acceptées.",
  "server.rate_limited": "Trop d’actions à la fois. Veuillez ralentir un peu.",
  "server.timeout": "Le service n’a pas répondu à temps. Vérifiez votre connexion et réessayez.",
  "server.unavailable": "Le service redémarre. Veuillez réessayer dans une minute.",
  "server.forbidden": "Vous ne participez plus à cet appel.",
  "server.not_found": "Votre demande d’aide ou votre appel n’existe plus. Rechargez la page.",
  "server.illegal_transition": "Ce n’est pas possible à ce stade de votre demande.",
  "server.unauthenticated": "Votre demande d’aide a expiré. Rechargez la page.",
  "server.too_large": "Ce que vous avez envoyé est trop volumineux.",
  "server.unsupported_type": "Envoyez une image JPEG, PNG ou WebP.",
  "server.not_an_image": "Ce fichier n’est pas une image lisible. Choisissez une photo JPEG, PNG ou WebP.",
  "server.encode_failed": "L’image n’a pas pu être enregistrée. Veuillez réessayer.",
  "server.no_session": "Cet appel est terminé.",
  "server.bad_offer": "La connexion vidéo n’a pas pu être établie. Rechargez la page et réessayez.",
  "server.bad_candidate": "La connexion vidéo n’a pas pu être établie. Rechargez la page et réessayez.",
  "server.media_busy": "Le service ne peut pas accueillir d’autre appel vidéo pour le moment. Veuillez réessayer dans quelques minutes.",
  "server.too_many": "Cette discussion est pleine : vous ne pouvez plus envoyer de message dans cet appel.",
  "server.conflict": "Ce n’est plus possible : l’appel a changé entre-temps.",
  "server.incomplete": "L’envoi a été interrompu. Vérifiez votre connexion et réessayez.",
  "server.not_supported": "Ce service ne propose pas cette fonction.",
  "server.tap.invalid": "Votre demande n’a pas pu être lue. Vérifiez le sujet et la description, puis réessayez.",
  "server.tap.invalid_topic": "Ce sujet n’est pas proposé. Choisissez-en un autre dans la liste.",
  "server.tap.invalid_description": "La description est trop longue. Raccourcissez-la et réessayez.",
  "server.tap.too_large": "Votre demande est trop longue. Raccourcissez la description et réessayez.",
  "server.tap.queue_full": "Tous nos conseillers sont occupés et la file d’attente est complète. Demandez un rappel : nous vous rappellerons.",
  "server.tap.closed": "Nous sommes fermés pour le moment. Revenez pendant nos heures d’ouverture.",
  "server.tap.identity_required": "Connectez-vous à l’application d’où vous venez, puis redemandez de l’aide.",
  "server.tap.invalid_context": "L’application a envoyé des détails illisibles. Réessayez depuis l’application.",
  "server.tap.active_ticket": "Une demande d’aide est déjà ouverte sur cet appareil, peut-être dans un autre onglet. Continuez-la là-bas, ou annulez-la avant d’en faire une nouvelle.",
  "server.tap.rate_limited": "Trop de demandes d’aide. Patientez un peu, puis réessayez.",
  "server.tap.rate_limited_wait": "Trop de demandes d’aide. Veuillez réessayer dans {seconds}\u00a0s.",
  "server.tap.illegal_transition": "Votre demande n’a pas pu être créée. Veuillez réessayer.",
  "server.tap.request_ended": "Cette demande d’aide est déjà terminée. Touchez Aide pour en faire une nouvelle.",
  "server.photo.forbidden": "Vous ne participez plus à cet appel : la photo n’a pas été envoyée.",
  "server.photo.too_large": "Cette photo est trop volumineuse. Choisissez-en une plus légère.",
  "server.photo.too_large_limit": "Cette photo est trop volumineuse (au maximum {megabytes}\u00a0Mo). Choisissez-en une plus légère.",
  "server.photo.no_session": "L’appel est terminé : la photo n’a pas été envoyée.",
  "server.connect.unavailable": "Le service s’est arrêté. Veuillez réessayer dans une minute.",
  "server.connect.not_found": "Votre place dans la file n’a pas pu être conservée. Veuillez refaire une demande d’aide.",
  "server.connect.illegal_transition": "Votre place dans la file n’a pas pu être conservée. Veuillez refaire une demande d’aide.",
  ...trainerFr,
  ...agentFr,
  ...integrationsFr,
});

// Each language under its own name, as a speaker of it looks for it in the switch.
export const LANGUAGES = {
  en: { name: "English", messages: en },
  fr: { name: "Français", messages: fr },
};
const FALLBACK = "en";
const STORAGE_KEY = "videoassist.language";
const ATTRIBUTES = ["aria-label", "placeholder", "alt", "title"];

// Until a page chooses, texts are English.
let current = FALLBACK;

function french(messages) {
  const spaced = {};
  for (const [key, text] of Object.entries(messages)) {
    spaced[key] = text
      .replace(/ ([?!;])/g, "\u202f$1") // narrow no-break space
      .replace(/ :/g, "\u00a0:")
      .replace(/« /g, "«\u00a0")
      .replace(/ »/g, "\u00a0»");
  }
  return spaced;
}

export function language() {
  return current;
}

export function has(key) {
  return key in LANGUAGES[FALLBACK].messages;
}

// The text for `key` in the current language with its {placeholders} filled; numbers are
// written the language's way. A missing key shows as itself, which the tests catch.
export function t(key, vars = {}) {
  const text = LANGUAGES[current].messages[key] ?? LANGUAGES[FALLBACK].messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in vars)) return whole;
    const value = vars[name];
    if (value && typeof value === "object" && Array.isArray(value.windows)) {
      return formatHours(value.windows, current);
    }
    return typeof value === "number" ? value.toLocaleString(current) : String(value);
  });
}

// Weekly opening hours ([{day: 0 = Monday, start, end}] in minutes after local midnight) in
// words: days with the same times run together ("Monday–Friday 9:00–17:00").
export function formatHours(windows, lang = current) {
  const dayName = (day) => new Intl.DateTimeFormat(lang, { weekday: "long", timeZone: "UTC" })
    .format(new Date(Date.UTC(2024, 0, 1 + day))); // 1 January 2024 was a Monday
  const clock = (minutes) => `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`;
  const sorted = [...windows].sort((a, b) => a.day - b.day || a.start - b.start);
  const runs = [];
  for (const w of sorted) {
    const last = runs[runs.length - 1];
    if (last && last.to === w.day - 1 && last.start === w.start && last.end === w.end) last.to = w.day;
    else runs.push({ from: w.day, to: w.day, start: w.start, end: w.end });
  }
  return runs.map((r) => {
    const days = r.from === r.to ? dayName(r.from) : `${dayName(r.from)}–${dayName(r.to)}`;
    return `${days} ${clock(r.start)}–${clock(r.end)}`;
  }).join(", ");
}

// The remembered choice first, then the browser's languages in order (navigator.languages
// follows Accept-Language), by their primary subtag: fr-CA is fr.
export function pickLanguage(stored = remembered(), preferred = navigator.languages) {
  if (stored && stored in LANGUAGES) return stored;
  for (const tag of preferred || [navigator.language]) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (primary in LANGUAGES) return primary;
  }
  return FALLBACK;
}

function remembered() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch (err) {
    return null; // storage unavailable (private mode): the browser's languages decide
  }
}

// Show the page in `lang`; `remember` keeps it as the customer's choice for next time.
export function setLanguage(lang, { remember = false } = {}) {
  current = lang in LANGUAGES ? lang : FALLBACK;
  document.documentElement.lang = current;
  if (remember) {
    try { localStorage.setItem(STORAGE_KEY, current); } catch (err) { /* private mode */ }
  }
  translatePage(document);
}

// Fill every element under `root` marked with data-i18n (its text, with the placeholders kept
// in data-i18n-vars) or data-i18n-<attribute>.
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const vars = el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : {};
    el.textContent = t(el.dataset.i18n, vars);
  }
  for (const attribute of ATTRIBUTES) {
    for (const el of root.querySelectorAll(`[data-i18n-${attribute}]`)) {
      el.setAttribute(attribute, t(el.getAttribute(`data-i18n-${attribute}`)));
    }
  }
}

// Show the text `key` in `el`, marked so that a change of language re-renders it; no key
// empties the element. Keep vars language-neutral (numbers, names, links).
export function say(el, key, vars = {}) {
  if (!key) {
    delete el.dataset.i18n;
    delete el.dataset.i18nVars;
    el.textContent = "";
    return;
  }
  el.dataset.i18n = key;
  if (Object.keys(vars).length) el.dataset.i18nVars = JSON.stringify(vars);
  else delete el.dataset.i18nVars;
  el.textContent = t(key, vars);
}

// [key, vars] for a refusal {code, message} from the server, asked for by a request of kind
// `where` ("tap", "photo", "ack", "connect"). `detail` narrows it (server.tap.invalid_topic)
// where the page knows more; an unknown code shows the server's own (English) message.
export function serverError(where, error = {}, vars = {}, detail = null) {
  const code = error.code;
  const keys = [`server.${where}.${code}`, `server.${code}`];
  if (detail) keys.unshift(`server.${where}.${code}_${detail}`);
  const key = code ? keys.find(has) : null;
  return key ? [key, vars] : ["server.unknown", { message: error.message || String(code || "") }];
}
