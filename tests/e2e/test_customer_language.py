"""The customer page in the customer's language: chosen from the browser, switched by hand,
remembered; server refusals worded by their code."""

from __future__ import annotations

from dataclasses import replace

from playwright.async_api import Browser, Page, expect

from tests.support.harness import Harness
from tests.support.pages import assert_accessible, live_call_in_browsers
from videoassist.desk.config import DEFAULT_QUEUE
from videoassist.desk.events import ConfigChanged

# French typography: a no-break space before a colon, a narrow one before ? ! ;
NBSP = "\u00a0"
NNBSP = "\u202f"
GET_HELP_FR = "Obtenir de l’aide"


async def french_page(browser: Browser) -> Page:
    return await (await browser.new_context(locale="fr-FR")).new_page()


async def test_a_french_browser_gets_the_page_in_french_from_tap_to_leaving_the_line(
    harness: Harness, browser: Browser
) -> None:
    page = await french_page(browser)
    await page.goto(harness.url)
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await expect(page).to_have_title(GET_HELP_FR)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Aide en vidéo")
    await expect(page.get_by_role("heading", level=2, name="Parlez à une personne")).to_be_visible()
    await expect(page.get_by_label("Sur quoi porte votre demande")).to_be_visible()
    await expect(page.get_by_label("Langue")).to_have_value("fr")
    await assert_accessible(page, "customer start, French")

    await page.get_by_role("button", name=GET_HELP_FR).click()
    await expect(
        page.get_by_role("heading", name="Vous êtes dans la file d’attente")
    ).to_be_visible()
    await expect(page.locator("#waiting")).to_contain_text(f"Votre position dans la file{NBSP}:")
    await expect(page.locator("#position")).to_have_text("1")
    # No agent is signed in: the page says so rather than estimate.
    await expect(page.locator("#eta")).to_have_text(
        f"Aucun conseiller n’est disponible pour le moment. Restez dans la file{NBSP}: nous "
        "vous mettrons en relation dès que l’un d’eux se libérera."
    )
    # The camera stays off while waiting; the customer may check it.
    await expect(page.locator("#waiting")).to_contain_text(
        "Votre caméra et votre micro restent éteints pendant l’attente"
    )
    await page.get_by_role("button", name="Vérifier ma caméra").click()
    await expect(
        page.get_by_label("Votre caméra, telle que le conseiller la verra")
    ).to_be_visible()
    await expect(page.get_by_role("button", name="Éteindre ma caméra")).to_be_visible()
    await assert_accessible(page, "customer waiting, French")

    await page.get_by_role("button", name="Annuler").click()
    await expect(page.locator("#start")).to_be_visible()
    await expect(page.locator("#message")).to_have_text("Vous avez quitté la file d’attente.")
    await assert_accessible(page, "customer left the line, French")


async def test_the_switch_changes_the_page_at_once_and_is_remembered(
    harness: Harness, browser: Browser
) -> None:
    page = await (await browser.new_context(locale="en-US")).new_page()
    await page.goto(harness.url)
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("button", name="Get help")).to_be_visible()

    # The switch is the first stop of the keyboard, labelled, each language in its own words.
    await page.keyboard.press("Tab")
    switch = page.get_by_label("Language")
    await expect(switch).to_be_focused()
    await expect(switch.locator("option")).to_have_text(["English", "Français"])
    await switch.select_option("fr")
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Aide en vidéo")
    await expect(page.get_by_role("button", name=GET_HELP_FR)).to_be_visible()
    await expect(page.get_by_label("Langue")).to_be_focused()
    await expect(page.get_by_role("option", name="Choisissez un sujet")).to_be_attached()
    await expect(page).to_have_title(GET_HELP_FR)
    await assert_accessible(page, "customer start, switched to French")

    await page.reload()
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await expect(page.get_by_role("button", name=GET_HELP_FR)).to_be_visible()
    await expect(page.get_by_label("Langue")).to_have_value("fr")

    # And back: the choice beats the browser's languages either way.
    await page.get_by_label("Langue").select_option("en")
    await page.reload()
    await expect(page.get_by_role("button", name="Get help")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "en")


async def test_a_refusal_from_the_server_is_worded_in_french_by_its_code(
    harness: Harness, browser: Browser
) -> None:
    config = harness.service.desk.config
    general = replace(config.queues[DEFAULT_QUEUE], max_length=1)
    full = replace(config, queues={**config.queues, DEFAULT_QUEUE: general})
    await harness.service.submit(ConfigChanged(full, harness.service.now()))
    # The one place in line is taken, by a customer whose page is connected.
    await harness.customer((await harness.tap())["token"])

    page = await french_page(browser)
    await page.goto(harness.url)
    await page.get_by_role("button", name=GET_HELP_FR).click()
    await expect(page.locator("#message")).to_have_text(
        "Tous nos conseillers sont occupés et la file d’attente est complète. Demandez un "
        f"rappel{NBSP}: nous vous rappellerons."
    )
    await expect(page.get_by_role("button", name="Demander un rappel")).to_be_focused()
    await assert_accessible(page, "customer, line full, French")

    # What the answer says besides the code is kept: how long to wait (Retry-After).
    await page.route(
        "**/api/tickets",
        lambda route: route.fulfill(
            status=429,
            headers={"Retry-After": "30"},
            json={"error": {"code": "rate_limited", "message": "too many help requests; ..."}},
        ),
    )
    await page.get_by_role("button", name=GET_HELP_FR).click()
    await expect(page.locator("#message")).to_have_text(
        f"Trop de demandes d’aide. Veuillez réessayer dans 30{NBSP}s."
    )
    await page.unroute("**/api/tickets")

    # A code this page does not know yet: the server's own words, said to be in English.
    await page.route(
        "**/api/tickets",
        lambda route: route.fulfill(
            status=503,
            json={"error": {"code": "brand_new", "message": "something new happened"}},
        ),
    )
    await page.get_by_role("button", name=GET_HELP_FR).click()
    await expect(page.locator("#message")).to_have_text(
        f"Le service a répondu (en anglais){NBSP}: «{NBSP}something new happened{NBSP}»"
    )


async def test_a_call_in_french_and_a_switch_to_english_in_the_middle_of_it(
    harness: Harness, browser: Browser
) -> None:
    customer, agent = await live_call_in_browsers(browser, harness, locale="fr-FR")
    await expect(customer.locator("#live-status")).to_have_text("Connexion établie.")
    await expect(customer.get_by_role("heading", name="En ligne avec Alice")).to_be_visible()
    for name in ("Partager mon écran", "Couper ma vidéo", "Envoyer une photo", "Raccrocher"):
        await expect(customer.get_by_role("button", name=name, exact=True)).to_be_visible()
    await expect(customer.get_by_role("heading", name="Discussion")).to_be_visible()
    await expect(customer.get_by_label("Texte en temps réel")).to_be_visible()
    await expect(customer.get_by_role("textbox", name="Message")).to_have_attribute(
        "placeholder", "Écrivez un message"
    )
    await assert_accessible(customer, "customer in a call, French")

    await customer.get_by_role("button", name="Couper le micro").click()
    await expect(customer.get_by_role("button", name="Rétablir le micro")).to_have_attribute(
        "aria-pressed", "true"
    )

    await customer.get_by_role("textbox", name="Message").fill("Le voyant est rouge")
    await customer.get_by_role("button", name="Envoyer", exact=True).click()
    await expect(customer.locator("#chat .chat-log")).to_contain_text(
        f"Vous{NBSP}: Le voyant est rouge"
    )

    # Photos the server refuses, each worded by its code.
    await customer.locator("#photo-file").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}]
    )
    await expect(customer.locator("#message")).to_have_text("Envoyez une image JPEG, PNG ou WebP.")
    await customer.locator("#photo-file").set_input_files(
        files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"not a png at all"}]
    )
    await expect(customer.locator("#message")).to_have_text(
        "Ce fichier n’est pas une image lisible. Choisissez une photo JPEG, PNG ou WebP."
    )
    await assert_accessible(customer, "customer in a call, photo refused, French")

    # Switching mid-call rewords what the script had shown too.
    await customer.get_by_label("Langue").select_option("en")
    await expect(customer.locator("#live-status")).to_have_text("Connected.")
    await expect(customer.get_by_role("button", name="Unmute mic")).to_be_visible()
    await expect(customer.locator("#message")).to_have_text(
        "This file is not an image we can read. Choose a JPEG, PNG or WebP photo."
    )
    await expect(customer.locator("#chat .chat-log")).to_contain_text("You: Le voyant est rouge")
    await customer.get_by_label("Language").select_option("fr")

    await customer.get_by_role("button", name="Raccrocher").click()
    await expect(customer.get_by_role("heading", name="Appel terminé")).to_be_visible()
    await expect(customer.locator("#ended-reason")).to_have_text("Vous avez mis fin à l’appel.")
    await expect(
        customer.get_by_role("button", name="Demander à nouveau de l’aide")
    ).to_be_focused()
    await assert_accessible(customer, "customer after the call, French")
    await expect(agent.locator("#wrapup-reason")).to_have_text("The customer hung up.")


DICTIONARY_PROBLEMS = """async () => {
    const i18n = await import("/static/shared/i18n.js");
    const problems = [];
    const en = i18n.LANGUAGES.en.messages;
    const holes = (text) => [...text.matchAll(/\\{(\\w+)\\}/g)].map((m) => m[1]).sort().join();
    for (const [lang, { messages }] of Object.entries(i18n.LANGUAGES)) {
        for (const key of Object.keys(en)) {
            if (!(key in messages)) problems.push(`${lang} lacks ${key}`);
            else if (holes(messages[key]) !== holes(en[key])) {
                problems.push(`${lang} ${key} has other placeholders than en`);
            }
        }
        for (const key of Object.keys(messages)) {
            if (!(key in en)) problems.push(`${lang} has ${key}, en does not`);
        }
    }
    // Every key the markup names, in the page as the server sends it.
    const html = await (await fetch("/")).text();
    const doc = new DOMParser().parseFromString(html, "text/html");
    let marked = 0;
    for (const el of doc.querySelectorAll("*")) {
        for (const { name, value } of el.attributes) {
            if (!name.startsWith("data-i18n") || name === "data-i18n-vars") continue;
            marked += 1;
            if (!(value in en)) problems.push(`index.html ${name}="${value}" is no key`);
        }
    }
    if (marked < 40) problems.push(`only ${marked} marked texts in index.html`);
    // Every key the scripts name literally.
    const spaces = new Set(Object.keys(en).map((k) => k.split(".")[0]));
    for (const file of ["customer/customer.js", "shared/chat.js", "shared/signaling.js"]) {
        const source = await (await fetch(`/static/${file}`)).text();
        for (const [, key] of source.matchAll(/"([a-z]+\\.[A-Za-z_.]+)"/g)) {
            if (spaces.has(key.split(".")[0]) && !(key in en)) problems.push(`${file}: ${key}`);
        }
    }
    return problems;
}"""

LANGUAGE_CHOICE = """async () => {
    const { pickLanguage, setLanguage } = await import("/static/shared/i18n.js");
    const { formatSeconds } = await import("/static/shared/signaling.js");
    setLanguage("fr");
    const french = [formatSeconds(30), formatSeconds(60), formatSeconds(600)];
    setLanguage("en");
    const english = [formatSeconds(30), formatSeconds(60), formatSeconds(600)];
    return {
        french, english,
        picks: [
            pickLanguage(null, ["fr-CA", "en"]),
            pickLanguage(null, ["de-DE", "EN-gb"]),
            pickLanguage(null, ["de"]),
            pickLanguage("en", ["fr"]),
            pickLanguage("xx", ["fr"]),
        ],
    };
}"""


async def test_every_language_has_every_text_the_page_and_its_scripts_name(
    harness: Harness, browser: Browser
) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(harness.url)
    assert await page.evaluate(DICTIONARY_PROBLEMS) == []
    assert await page.evaluate(LANGUAGE_CHOICE) == {
        "french": ["moins d’une minute", "environ 1 minute", "environ 10 minutes"],
        "english": ["less than a minute", "about 1 minute", "about 10 minutes"],
        "picks": ["fr", "en", "en", "en", "fr"],
    }
