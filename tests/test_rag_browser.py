"""What a person sees: a citation in an answer jumps to its source card (headless Chromium)."""

from __future__ import annotations

import time

import pytest

from playground.rag import Hit
from playground.rag.chunking import Chunk
from tabs.rag import link_citations, sources_html
from tests.system_packages import headless_chromium, require

pytestmark = pytest.mark.browser


def test_clicking_a_citation_scrolls_to_its_source():
    import gradio as gr
    from conftest import free_port
    from selenium.webdriver.common.by import By

    require("chromium", "chromium-driver")

    hits = [
        Hit(
            rank=n,
            chunk=Chunk(f"passage {n}", f"f{n}.pdf", "d", n, "", 0, 9, 2),
            score=1.0,
            relevance=0.9,
        )
        for n in (1, 2)
    ]
    answer = link_citations("It is blue [2].", hits)
    with gr.Blocks() as demo:
        gr.Chatbot(
            value=[{"role": "user", "content": "q"}, {"role": "assistant", "content": answer}]
        )
        gr.HTML("<div style='height:2500px'></div>")
        gr.HTML(sources_html("blue", hits))
    port = free_port()
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    driver = headless_chromium(1200, 800)
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        deadline = time.time() + 60
        links = []
        while time.time() < deadline and not links:
            links = driver.find_elements(By.CSS_SELECTOR, "a[href$='#rag-src-2']")
            time.sleep(0.5)
        assert links, "the citation was not rendered as a link"
        assert links[0].get_attribute("title") == "f2.pdf, page 2"
        links[0].click()
        time.sleep(1)
        card = driver.find_element(By.ID, "rag-src-2")
        top = driver.execute_script("return arguments[0].getBoundingClientRect().top", card)
        assert 0 <= top < 800  # the source card is on screen
        assert len(driver.window_handles) == 1  # same page, no new tab
    finally:
        driver.quit()
        demo.close()
