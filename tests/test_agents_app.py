"""The Agents panel through real clients: the named endpoint, per-user isolation, and a browser."""

from __future__ import annotations

import pytest

from tests.agent_support import (
    OTHER_DOCS,
    TEA_DOCS,
    make_adapter,
    make_collection,
    register_adapter,
    save_voice,
)
from tests.conftest import launch_app
from tests.system_packages import headless_chromium

USERS = [("ann", "pw-ann"), ("bo", "pw-bo")]
ANN = "user-ann"  # the owner id the app gives the login "ann"


@pytest.fixture(scope="module")
def agent_app(tiny_models, tmp_path_factory):
    """The whole app with logins, where Ann has an agent with all four parts."""
    from types import SimpleNamespace

    from playground.agents import AgentSettings, AgentStore
    from playground.chat import Role

    data_dir = tmp_path_factory.mktemp("agents-app")
    demo, url = launch_app(tiny_models, data_dir, auth=USERS)
    registry = demo.registry
    adapter = make_adapter(tiny_models, tmp_path_factory.mktemp("app-lora") / "adapter")
    register_adapter(registry, adapter, ANN, name="ann-lora")
    make_collection(registry, data_dir, ANN, "Teas", TEA_DOCS)
    make_collection(registry, data_dir, "user-bo", "Teas", OTHER_DOCS)
    save_voice(data_dir, ANN)
    settings = AgentSettings(generation={"seed": 11, "max_new_tokens": 24}, min_relevance=-1.0)
    role = Role(id="tea", name="Tea expert", role="You are a tea expert.")
    AgentStore.for_owner(data_dir, ANN).create(registry, "Tea expert", role, adapter="ann-lora",
                                               collection="Teas", voice="Me", settings=settings)  # fmt: skip
    yield SimpleNamespace(url=url, data_dir=data_dir, registry=registry)
    demo.close()


def _client(agent_app, user):
    from gradio_client import Client

    return Client(agent_app.url, auth=(user, dict(USERS)[user]), verbose=False)


def test_agent_chat_endpoint_cites_its_documents_and_speaks(agent_app):
    import soundfile as sf

    ann = _client(agent_app, "ann")
    picker, _ = ann.predict(None, None, api_name="/agent_list")
    assert [c[0] for c in picker["choices"]] == ["Tea expert"]
    history, sources, raw, audio, box = ann.predict(
        "Tea expert", "Which tea is smoky?", [], True, True, None, None, api_name="/agent_chat"
    )
    assert box == "" and history[-1]["role"] == "assistant"
    assert raw and all(s["source"] == "teas.md" for s in raw) and raw[0]["n"] == 1
    assert "teas.md" in sources and "rag-src-1" in sources  # the Documents tab's source cards
    assert sf.info(audio).samplerate == 24000 and sf.info(audio).frames > 0
    # Grounding off: no sources; speaking off: no audio.
    _, sources, raw, audio, _ = ann.predict(
        "Tea expert", "Hello", [], False, False, None, None, api_name="/agent_chat"
    )
    assert raw == [] and sources == "" and audio is None


def test_another_user_cannot_see_chat_with_or_export_it(agent_app):
    bo = _client(agent_app, "bo")
    picker, _ = bo.predict(None, None, api_name="/agent_list")
    assert picker["choices"] == []
    with pytest.raises(Exception, match="no agent named 'Tea expert'"):
        bo.predict("Tea expert", "hi", [], True, True, None, None, api_name="/agent_chat")
    with pytest.raises(Exception, match="no agent named 'Tea expert'"):
        bo.predict("Tea expert", True, True, None, api_name="/agent_export")
    # Even a client id of Ann's cannot make Bo into Ann: the login decides.
    with pytest.raises(Exception, match="no agent named"):
        bo.predict("Tea expert", "hi", [], True, True, None, "ann", api_name="/agent_chat")


def test_export_then_import_through_the_api(agent_app):
    from gradio_client import handle_file

    ann = _client(agent_app, "ann")
    exported = ann.predict("Tea expert", True, False, None, api_name="/agent_export")
    bo = _client(agent_app, "bo")
    picker, summary = bo.predict(handle_file(exported["value"]), None, api_name="/agent_import")
    assert picker["value"] == "Tea expert" and "documents: Teas (2)" in summary


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium(1400, 1800)
    yield driver
    driver.quit()


@pytest.mark.browser
def test_pick_the_agent_in_chat_and_see_sources_and_audio(browser, agent_app):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 90)
    browser.get(agent_app.url)
    user = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "input[type='text']")))
    user.send_keys("ann")
    browser.find_element(By.CSS_SELECTOR, "input[type='password']").send_keys("pw-ann")
    browser.find_element(By.XPATH, "//button[normalize-space()='Login']").click()
    panel = wait.until(ec.element_to_be_clickable((By.XPATH, "//*[@id='agents-panel']//button")))
    browser.execute_script("arguments[0].scrollIntoView()", panel)
    panel.click()
    picker = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#agents-pick input")))
    # Her only agent is picked once the page knows who she is; the summary says what it is.
    wait.until(lambda d: picker.get_attribute("value") == "Tea expert")
    wait.until(lambda d: "documents: Teas" in d.find_element(By.TAG_NAME, "body").text)
    box = browser.find_element(By.CSS_SELECTOR, "#agents-message textarea")
    box.send_keys("Which tea is smoky?")
    browser.find_element(By.ID, "agents-send").click()
    wait.until(lambda d: "teas.md" in d.find_element(By.ID, "agents-sources").text)
    assert "[1]" in browser.find_element(By.ID, "agents-sources").text
    wait.until(
        lambda d: d.find_elements(
            By.CSS_SELECTOR, "#agents-audio audio, #agents-audio .waveform-container"
        )
    )
    bubbles = browser.find_elements(By.CSS_SELECTOR, "#agents-chatbot .message")
    assert any("Which tea is smoky?" in b.text for b in bubbles)


def test_save_as_agent_then_rename_and_delete(agent_app):
    ann = _client(agent_app, "ann")
    picker, summary, box = ann.predict("Saved one", "tiny-chat", "Teas", "Me", None, None,
                                       api_name="/agent_save")  # fmt: skip
    assert picker["value"] == "Saved one" and box == ""
    assert "tiny-chat" in summary and "documents: Teas" in summary and "voice: Me" in summary
    picker, summary, _ = ann.predict("Saved one", "Kept one", None, api_name="/agent_rename")
    assert picker["value"] == "Kept one" and "revision 2" in summary
    with pytest.raises(Exception, match="no collection named 'Teas2'"):
        ann.predict("Other", "tiny-chat", "Teas2", "", None, None, api_name="/agent_save")
    picker, _ = ann.predict("Kept one", None, api_name="/agent_delete")
    assert [c[0] for c in picker["choices"]] == ["Tea expert"]
