"""The agent console in the agent's language: French for a French browser from the log-in to
the wrap-up, switched by hand (and remembered) like the other staff pages, with no text of the
other language left on screen; every text it names exists in every language."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.support.harness import Harness
from tests.support.pages import assert_accessible
from videoassist.auth import hash_password

NBSP = "\u00a0"

# Texts of the console's table (agent.*, tutorial.agent.*) in language `other` that are shown
# now: in a visible text node, a visible element's aria-label, title, placeholder or alt, an
# option of a visible list, or the page's title. A text the same in both languages (Guide,
# Laser) cannot be told apart and is skipped; a short one counts only when it is the whole of
# what is shown, a part between placeholders only when it is long enough to be telling.
LEFTOVERS = """async (other) => {
    const { LANGUAGES, language } = await import("/static/shared/i18n.js");
    const mine = LANGUAGES[language()].messages;
    const theirs = LANGUAGES[other].messages;
    const shown = [document.title];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent.trim();
        if (text && node.parentElement.checkVisibility()) shown.push(text);
    }
    for (const el of document.body.querySelectorAll("*")) {
        if (!el.checkVisibility()) continue;
        for (const name of ["aria-label", "title", "placeholder", "alt"]) {
            if (el.getAttribute(name)) shown.push(el.getAttribute(name));
        }
        if (el.tagName === "SELECT") for (const o of el.options) shown.push(o.textContent.trim());
    }
    const found = [];
    for (const [key, text] of Object.entries(theirs)) {
        if (!/^(agent|tutorial[.]agent)[.]/.test(key) || text === mine[key]) continue;
        const parts = text.split(/[{]\\w+[}]/).map((p) => p.trim());
        for (const s of shown) {
            const whole = parts.length === 1
                && (s === text || (text.length >= 12 && s.includes(text)));
            const part = parts.length > 1 && parts.some((p) => p.length >= 6 && s.includes(p));
            if (whole || part) found.push(`${key}: ${s}`);
        }
    }
    return found;
}"""


async def french_console(browser: Browser, harness: Harness) -> Page:
    """Alice's console in a French browser, logged in with the French form."""
    await harness.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    page = await (await browser.new_context(locale="fr-FR")).new_page()
    await page.goto(f"{harness.url}/agent")
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await expect(page).to_have_title("Console du conseiller")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Console du conseiller")
    await expect(page.get_by_label("Langue")).to_have_value("fr")
    await expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
    await page.get_by_label("Identifiant", exact=True).fill("alice")
    await page.get_by_label("Mot de passe", exact=True).fill("pw-alice-1")
    await page.get_by_role("button", name="Se connecter").click()
    return page


async def assert_no_text_of(page: Page, other: str, state: str) -> None:
    assert await page.evaluate(LEFTOVERS, other) == [], f"{state}: texts in {other} left"


async def test_a_french_browser_gets_the_console_in_french_from_log_in_to_wrap_up(
    harness: Harness, browser: Browser
) -> None:
    page = await french_console(browser, harness)
    await expect(page.locator("#state")).to_have_text("Absent")
    await expect(page.locator("#idle-text")).to_have_text(
        f"Votre statut est «{NBSP}Absent{NBSP}». Cliquez sur «{NBSP}Passer disponible{NBSP}» "
        "pour recevoir des appels."
    )
    await expect(page.get_by_label("Motif d’absence")).to_contain_text("Déjeuner")
    await expect(page.get_by_role("button", name="Passer absent")).to_be_visible()
    await page.get_by_text("Raccourcis clavier").click()
    await expect(page.locator("#marks-help")).to_contain_text("Échap annule.")
    await assert_no_text_of(page, "en", "main screen")
    await assert_accessible(page, "agent console, French")

    await page.get_by_role("button", name="Passer disponible").click()
    await expect(page.locator("#state")).to_have_text("Disponible")
    await expect(page.locator("#idle-text")).to_have_text(
        "Disponible. En attente du prochain client…"
    )
    await page.get_by_text("Raccourcis clavier").click()  # folded again

    customer = await harness.customer((await harness.tap())["token"])
    await expect(page.get_by_role("heading", name="Demande d’aide entrante")).to_be_visible()
    await expect(page.locator("#offer-topic")).to_have_text("Aide générale")
    await expect(page.locator("#offer-countdown")).to_contain_text("Répondez dans les")
    await expect(page.locator("#state")).to_have_text("Appel entrant")
    await assert_no_text_of(page, "en", "offer")

    await page.get_by_role("button", name="Accepter").click()
    await expect(page.get_by_role("heading", name="En appel")).to_be_visible()
    for name in ("Raccrocher", "Figer l’image", "Flèche", "Transférer…", "Couper ma vidéo"):
        await expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    await expect(page.get_by_role("toolbar", name="Outils de dessin")).to_be_visible()
    await expect(page.get_by_label("Texte en temps réel")).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message")).to_have_attribute(
        "placeholder", "Écrivez un message"
    )
    await expect(page.locator("#customer-ref")).to_have_text("Anonyme (pas d’identité signée)")
    await expect(page.locator("#quality")).to_contain_text(f"Connexion{NBSP}:")
    session_id = (await customer.inbox.next("matched"))["session_id"]
    await customer.call("chat", {"session_id": session_id, "text": "Le voyant clignote"})
    await expect(page.locator("#chat .chat-log")).to_contain_text(
        f"Client{NBSP}: Le voyant clignote"
    )
    await page.get_by_role("button", name="Couper le micro").click()
    await expect(page.get_by_role("button", name="Rétablir le micro")).to_have_attribute(
        "aria-pressed", "true"
    )
    await assert_no_text_of(page, "en", "in a call")
    await assert_accessible(page, "agent in a call, French")

    # Switching mid-call rewords what the script has shown too, and the page's language.
    await page.get_by_label("Langue").select_option("en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page).to_have_title("Agent console")
    await expect(page.get_by_role("heading", name="In a session")).to_be_visible()
    await expect(page.locator("#state")).to_have_text("In session")
    await expect(page.get_by_role("button", name="Unmute mic")).to_be_visible()
    await expect(page.get_by_role("button", name="Hang up")).to_be_visible()
    await expect(page.locator("#quality")).to_contain_text("Connection:")
    await expect(page.locator("#customer-ref")).to_have_text("Anonymous (no signed identity)")
    await expect(page.locator("#chat .chat-log")).to_contain_text("Customer: Le voyant clignote")
    await assert_no_text_of(page, "fr", "in a call, switched to English")

    await page.get_by_role("button", name="Hang up").click()
    await expect(page.locator("#wrapup-reason")).to_have_text("You ended the session.")
    await page.get_by_label("Language").select_option("fr")
    await expect(page.get_by_role("heading", name="Post-appel")).to_be_visible()
    await expect(page.locator("#wrapup-reason")).to_have_text("Vous avez mis fin à l’appel.")
    await expect(page.get_by_label("Résultat")).to_contain_text("Suivi nécessaire")
    await expect(page.locator("#wrapup-countdown")).to_contain_text("De nouveau disponible dans")
    await assert_no_text_of(page, "en", "wrap-up")
    await assert_accessible(page, "agent wrap-up, French")
    await page.get_by_role("button", name="Terminer").click()
    await expect(page.locator("#state")).to_have_text("Disponible")


async def test_the_switch_is_remembered_over_the_browser_s_language(
    harness: Harness, browser: Browser
) -> None:
    page = await french_console(browser, harness)
    await expect(page.locator("#state")).to_have_text("Absent")
    await page.get_by_label("Langue").select_option("en")
    await expect(page.locator("#state")).to_have_text("Away")
    await expect(page.get_by_role("button", name="Ready")).to_be_visible()
    await expect(page.locator("#idle-text")).to_have_text(
        "You are away. Press Ready to take calls."
    )
    await assert_no_text_of(page, "fr", "main screen, switched to English")

    await page.reload()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_label("Language")).to_have_value("en")
    await expect(page.get_by_role("button", name="Go away")).to_be_visible()
    await expect(page.get_by_role("button", name="Passer absent")).to_have_count(0)


async def test_a_refusal_is_worded_in_french_by_its_code_with_what_the_answer_adds(
    harness: Harness, browser: Browser
) -> None:
    await harness.records.add_user("alice", "Alice", hash_password("pw-alice-1"), "agent", 0.0)
    page = await (await browser.new_context(locale="fr-FR")).new_page()
    await page.goto(f"{harness.url}/agent")
    await page.get_by_label("Identifiant", exact=True).fill("alice")
    await page.get_by_label("Mot de passe", exact=True).fill("pw-alice-1")

    # A throttled login says how long to wait (Retry-After), as the server's message did.
    await page.route(
        "**/api/login",
        lambda route: route.fulfill(
            status=429,
            headers={"Retry-After": "42"},
            json={"error": {"code": "rate_limited", "message": "too many login attempts; ..."}},
        ),
    )
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.locator("#message")).to_have_text(
        f"Trop de tentatives de connexion. Réessayez dans 42{NBSP}s."
    )
    await page.unroute("**/api/login")
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.locator("#state")).to_have_text("Absent")

    # The test's customer sends no video: freezing it is refused with no_video.
    await page.get_by_role("button", name="Passer disponible").click()
    await harness.customer((await harness.tap())["token"])
    await page.get_by_role("button", name="Accepter").click()
    await page.get_by_role("button", name="Figer l’image").click()
    await expect(page.locator("#message")).to_have_text(
        "Aucune image du client pour l’instant. Réessayez dans un instant."
    )
    await page.get_by_label("Langue").select_option("en")
    await expect(page.locator("#message")).to_have_text(
        "There is no picture from the customer yet. Try again in a moment."
    )


async def test_a_browser_in_another_language_gets_the_console_in_english(
    harness: Harness, browser: Browser
) -> None:
    page = await (await browser.new_context(locale="de-DE")).new_page()
    await page.goto(f"{harness.url}/agent")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_label("Language")).to_have_value("en")
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await assert_no_text_of(page, "fr", "log-in form, German browser")


# Every key the console's markup and scripts name, in every language (test_customer_language.py
# checks that every language has every key of English, placeholders included).
CONSOLE_KEYS = """async () => {
    const { LANGUAGES } = await import("/static/shared/i18n.js");
    const problems = [];
    const html = await (await fetch("/agent")).text();
    const doc = new DOMParser().parseFromString(html, "text/html");
    let marked = 0;
    for (const el of doc.querySelectorAll("*")) {
        for (const { name, value } of el.attributes) {
            if (!name.startsWith("data-i18n") || name === "data-i18n-vars") continue;
            marked += 1;
            for (const [lang, { messages }] of Object.entries(LANGUAGES)) {
                if (!(value in messages)) problems.push(`${lang}: index.html ${name}="${value}"`);
            }
        }
    }
    if (marked < 90) problems.push(`only ${marked} marked texts in agent/index.html`);
    const dynamic = {
        state: ["ready", "away", "offered", "busy", "wrap_up", "offline"],
        quality: ["good", "fair", "poor", "unknown"],
        disposition: [...doc.querySelectorAll("#disposition option")].map((o) => o.value),
        end: ["transferred", "callback_not_joined", "server_restart", "customer_hung_up",
              "agent_hung_up", "customer_disconnected", "media_failed", "agent_signed_out",
              "server_shutdown", "other"],
    };
    const keys = Object.entries(dynamic)
        .flatMap(([part, values]) => values.map((v) => `agent.${part}.${v}`));
    const scripts = ["agent/agent.js", "agent/context.js", "agent/tutorials.js", "shared/chat.js"];
    for (const file of scripts) {
        const source = await (await fetch(`/static/${file}`)).text();
        for (const [, key] of source.matchAll(/"((?:agent|tutorial|chat)[.][A-Za-z_.]+)"/g)) {
            keys.push(key);
        }
    }
    for (const key of keys) {
        for (const [lang, { messages }] of Object.entries(LANGUAGES)) {
            if (!(key in messages)) problems.push(`${lang}: ${key}`);
        }
    }
    return problems;
}"""


async def test_every_text_the_console_names_is_in_every_language(
    harness: Harness, browser: Browser
) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{harness.url}/agent")
    assert await page.evaluate(CONSOLE_KEYS) == []
