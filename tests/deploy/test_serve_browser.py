"""The web page of `mrcnn serve` in a real browser: headless Chromium from
Debian's packages, driven by selenium through Debian's chromedriver
(nothing is downloaded at run time). It uploads an image, waits for the
drawing, reads the detection list and checks it against the API's JSON,
moves the confidence slider, and saves a screenshot (into the test's
tmp_path, and into $MRCNN_TEST_ARTIFACTS when set)."""
import json
import os
import shutil

import numpy as np
import pytest
import requests
from PIL import Image
from serve_fixtures import CLASS_NAMES, encode, painted_image, shared_checkpoint, start_service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,900")
WAIT = 60


def require_browser():
    """Fail in CI (CI=true), skip elsewhere, when Chromium is not installed."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    if missing:
        message = (f"{', '.join(missing)} absent: apt-get install chromium chromium-driver "
                   "(.ci/run installs them)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    require_browser()
    server = start_service("--weights", shared_checkpoint(tmp_path_factory))
    yield server
    assert server.stop() == 0


@pytest.fixture(scope="module")
def browser(tmp_path_factory, service):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    downloads = tmp_path_factory.mktemp("downloads")
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.downloads = downloads
    yield driver
    driver.quit()


def wait_for(driver, condition, message):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(lambda d: condition(d), message)


def page_detections(driver):
    """The detection list as the page shows it."""
    return driver.execute_script("""
        return [...document.querySelectorAll('#detections li.detection')].map(li => ({
            class_name: li.dataset.class, score: parseFloat(li.dataset.score),
            shown: li.dataset.shown === 'true', visible: li.offsetParent !== null,
            text: li.textContent}));""")


def count(driver, element_id):
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, element_id)
    assert element.text == element.get_attribute("data-count")
    return int(element.text)


def canvas_changed_fraction(driver):
    """Fraction of the canvas' pixels that differ from the image alone drawn
    at the same size: what the masks, boxes and labels cover."""
    return driver.execute_script("""
        const canvas = document.getElementById('canvas');
        const img = state.image;
        const plain = document.createElement('canvas');
        plain.width = canvas.width; plain.height = canvas.height;
        const ctx = plain.getContext('2d');
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(img, 0, 0, plain.width, plain.height);
        const a = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        const b = ctx.getImageData(0, 0, plain.width, plain.height).data;
        let changed = 0;
        for (let i = 0; i < a.length; i += 4) {
            if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 30) changed++;
        }
        return changed / (a.length / 4);""")


def save_artifact(driver, tmp_path, name):
    path = tmp_path / name
    driver.save_screenshot(str(path))
    folder = os.environ.get("MRCNN_TEST_ARTIFACTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        shutil.copy(path, os.path.join(folder, name))
    return path


def test_page_shows_the_detections_of_the_api_and_filters_them_without_a_request(
        service, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    image_path = tmp_path / "shapes.png"
    image_path.write_bytes(encode(painted_image(), "PNG"))
    api = requests.post(service.url + "v1/predict", files={"image": image_path.read_bytes()},
                        timeout=WAIT).json()
    instances = api["instances"]
    assert len(instances) >= 3

    browser.get(service.url)
    wait_for(browser, lambda d: "disc, bar" in d.find_element(By.ID, "model-info").text,
             "the page did not show the model's classes")
    browser.find_element(By.ID, "file-input").send_keys(str(image_path))
    wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state")
             in ("drawn", "error"), "the page did not finish drawing")
    status = browser.find_element(By.ID, "status")
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "drawn", status.text
    assert f"{len(instances)} detections" in status.text

    # The list is the API's answer, in its order, every item shown.
    listed = page_detections(browser)
    assert [d["class_name"] for d in listed] == [d["class_name"] for d in instances]
    np.testing.assert_allclose([d["score"] for d in listed], [d["score"] for d in instances])
    assert all(d["shown"] and d["visible"] for d in listed)
    assert all(f"{d['score']:.3f}" in item["text"] for d, item in zip(instances, listed))
    assert count(browser, "shown-count") == count(browser, "total-count") == len(instances)
    legend = {li.get_attribute("data-class"): int(li.get_attribute("data-count"))
              for li in browser.find_elements(By.CSS_SELECTOR, "#legend li[data-class]")}
    assert legend == {name: sum(d["class_name"] == name for d in instances)
                      for name in CLASS_NAMES if any(d["class_name"] == name for d in instances)}
    canvas = browser.find_element(By.ID, "canvas")
    assert int(canvas.get_attribute("width")) % 96 == 0 and int(canvas.get_attribute("width")) >= 96 * 4
    drawn_on = canvas_changed_fraction(browser)
    assert drawn_on > 0.05
    save_artifact(browser, tmp_path, "serve_page_all.png")

    # The slider, moved with the keyboard, filters what is already there.
    scores = sorted(d["score"] for d in instances)
    target = int(np.ceil(scores[len(scores) // 2] * 100))
    slider = browser.find_element(By.ID, "threshold")
    slider.click()
    slider.send_keys(Keys.HOME)
    slider.send_keys(Keys.ARROW_RIGHT * target)
    threshold = float(slider.get_attribute("value"))
    assert threshold == pytest.approx(target / 100)
    expected = [d for d in instances if d["score"] >= threshold]
    assert 0 < len(expected) < len(instances)
    assert count(browser, "shown-count") == len(expected)
    assert count(browser, "total-count") == len(instances)
    listed = page_detections(browser)
    assert [d["score"] for d in listed if d["visible"]] == pytest.approx([d["score"] for d in expected])
    assert sum(int(li.get_attribute("data-count")) for li in
               browser.find_elements(By.CSS_SELECTOR, "#legend li[data-class]")) == len(expected)
    assert browser.find_element(By.ID, "threshold-value").text == f"{threshold:.2f}"
    assert canvas_changed_fraction(browser) < drawn_on
    requests_made = browser.execute_script(
        "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/v1/predict')).length")
    assert requests_made == 1

    # The download holds what is shown.
    browser.find_element(By.ID, "download-json").click()
    saved = browser.downloads / "detections.json"
    wait_for(browser, lambda d: saved.exists() and saved.stat().st_size > 0, "no download")
    document = json.loads(saved.read_text())
    assert document["count"] == len(expected) and document["score_threshold"] == threshold
    assert [d["score"] for d in document["instances"]] == [d["score"] for d in expected]

    screenshot = save_artifact(browser, tmp_path, "serve_page_filtered.png")
    with Image.open(screenshot) as shot:
        assert shot.size[0] >= 1000 and shot.size[1] >= 700


def test_page_says_what_is_wrong_with_a_file_that_is_no_image(service, browser, tmp_path):
    from selenium.webdriver.common.by import By

    text_file = tmp_path / "notes.png"
    text_file.write_text("not a picture\n" * 10)
    browser.get(service.url)
    browser.find_element(By.ID, "file-input").send_keys(str(text_file))
    wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state")
             == "error", "the page did not report the error")
    assert "cannot show this file as an image" in browser.find_element(By.ID, "status").text
    assert count(browser, "total-count") == 0
