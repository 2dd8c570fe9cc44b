"""Screenshots of the labeling page (docs/screenshots): image, text and table projects with
no labels, at 1280x800 and 390x844, before and after the model takes over.

    HF_HUB_OFFLINE=1 uv run python docs/screenshots/make.py   # needs /usr/bin/chromium

It writes to /tmp/shots; the Label Studio ones (ls-*.png) come from
tests/test_labelstudio_server.py with AUTOAL_SCREENSHOTS=DIR.
"""
import shutil, threading, time
from pathlib import Path
import pandas as pd
from sklearn.datasets import load_wine
from autoal.project import Project
from autoal.web import make_server
from playwright.sync_api import sync_playwright

root = Path("/tmp/shots/work"); shutil.rmtree(root, ignore_errors=True); root.mkdir(parents=True)
fashion = pd.read_csv("/work/main/data/fashion/labels.csv").head(300)
# The page shows the class folder nowhere, but copy images flat so paths give nothing away.
(root / "img").mkdir()
for i, p in enumerate(fashion["image_path"]):
    shutil.copy(Path("/work/main/data/fashion") / p, root / "img" / f"{i:05d}.png")
images = pd.DataFrame({"label": None, "image_path": [f"img/{i:05d}.png" for i in range(len(fashion))]})
images.to_csv(root / "images.csv", index=False)
texts = ["The central bank raised interest rates by a quarter point, citing stubborn inflation in services and a tight labour market.",
         "The striker scored twice in the second half as the home side came back from two goals down to win the derby.",
         "A new smartphone chip promises twice the battery life, the company said at its annual developer conference.",
         "Shares in the airline fell sharply after it warned that fuel costs would eat into profits this year.",
         "The tennis champion withdrew from the tournament with a wrist injury on the eve of the final.",
         "Researchers released an open-source language model that runs on a laptop without a graphics card."] * 10
pd.DataFrame({"label": None, "text": texts}).to_csv(root / "texts.csv", index=False)
x, y = load_wine(return_X_y=True, as_frame=True)
x.assign(label=None).to_csv(root / "wine.csv", index=False)
projects = {
    "image": Project.init(root / "images.csv", root / "run-image", classes=sorted(fashion["label"].unique())),
    "text": Project.init(root / "texts.csv", root / "run-text", classes=["business", "sport", "tech"], column_types={"text": "text"}),
    "table": Project.init(root / "wine.csv", root / "run-table", classes=["barolo", "grignolino", "barbera"]),
}
truths = {"table": ["barolo", "grignolino", "barbera"]}
with sync_playwright() as pw:
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    for kind, project in projects.items():
        server, url = make_server(project.path, port=0, batch=8)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        for name, (w, h) in {"desktop": (1280, 800), "phone": (390, 844)}.items():
            context = browser.new_context(viewport={"width": w, "height": h}, device_scale_factor=1)
            page = context.new_page()
            page.goto(url)
            if page.locator("#name").is_visible():
                page.fill("#name", f"ana-{name}")
                page.press("#name", "Enter")
            page.locator("#item").wait_for(state="visible", timeout=300_000)
            if kind == "image":
                page.wait_for_function("() => { const i = document.querySelector('#show img'); return i && i.complete && i.naturalWidth > 0; }")
            page.screenshot(path=f"/tmp/shots/page-{kind}-{name}-cold.png")
            context.close()
        # Label the first batch with the first key... then wait for the model's batch.
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page(); page.goto(url); page.fill("#name", "bo"); page.press("#name", "Enter")
        classes = project.classes
        step, shot = 0, False
        deadline = time.time() + 900
        while time.time() < deadline:
            if page.locator("#item").is_visible():
                if "The model's guess" in (page.locator("#guess").text_content() or ""):
                    break
                page.keyboard.press(str(1 + step % min(3, len(classes))))
                step += 1
                time.sleep(0.4)
            else:
                text = page.locator("#done").text_content() or ""
                if not shot and text.startswith("The next batch is being prepared"):
                    page.screenshot(path=f"/tmp/shots/page-{kind}-desktop-fitting.png")
                    shot = True
                time.sleep(1)
        for name, (w, h) in {"desktop": (1280, 800), "phone": (390, 844)}.items():
            ctx = browser.new_context(viewport={"width": w, "height": h})
            pg = ctx.new_page(); pg.goto(url); pg.fill("#name", f"cy-{name}"); pg.press("#name", "Enter")
            pg.locator("#guess", has_text="The model's guess").wait_for(timeout=300_000)
            if kind == "image":
                pg.wait_for_function("() => { const i = document.querySelector('#show img'); return i && i.complete && i.naturalWidth > 0; }")
            pg.screenshot(path=f"/tmp/shots/page-{kind}-{name}.png")
            width = pg.evaluate("() => document.documentElement.scrollWidth")
            print(kind, name, "page scroll width", width, "viewport", w, flush=True)
            ctx.close()
        context.close()
        server.shutdown(); server.server_close(); server.labeling.dispatcher.wait()
    browser.close()
