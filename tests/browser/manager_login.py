"""Headless Chromium goes through hopmap's manager as its operator would:
logs in with a code from oathtool, sees the dashboard (counts, charts,
recent results), registers a worker by its URL (its type detected), makes
and revokes its API key, sees the map and filters it by node, logs out
(driven by Debian's python3-selenium and chromium-driver).  Prints TAP
lines; screenshots go to OUT.

usage: manager_login.py URL USER SECRET OUT WORKER_URL
"""
import os
import subprocess
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

url, user, secret, out, worker = sys.argv[1:6]
base = url.rstrip("/")
failed = 0


def check(name, cond):
    global failed
    print(("ok - " if cond else "not ok - ") + name, flush=True)
    failed += not cond


def shot(name):
    driver.save_screenshot(os.path.join(out, name + ".png"))


def row(name):
    """The workers table's row of worker NAME, as text."""
    for tr in driver.find_elements(By.CSS_SELECTOR, "#workers tr.worker"):
        if tr.find_element(By.CLASS_NAME, "name").text == name:
            return tr
    return None


def image_shown(elem):
    return driver.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0",
        elem)


opts = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
          "--disable-dev-shm-usage", "--no-first-run",
          "--disable-background-networking", "--disable-component-update",
          "--disable-sync", "--disable-default-apps",
          "--window-size=1100,900"):
    opts.add_argument(a)
opts.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                          options=opts)
wait = WebDriverWait(driver, 30)
try:
    driver.get(url)
    wait.until(ec.presence_of_element_located((By.ID, "code")))
    shot("1-login")
    check("the login form", driver.title.startswith("Log in"))
    check("no script on the page",
          not driver.find_elements(By.TAG_NAME, "script"))
    code = subprocess.run(["oathtool", "--totp", "-b", secret],
                          capture_output=True, text=True,
                          check=True).stdout.strip()
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "code").send_keys(code)
    driver.find_element(By.ID, "login").click()
    wait.until(ec.presence_of_element_located((By.ID, "counts")))
    shot("2-dashboard")
    check("logged in with oathtool's code: the dashboard",
          driver.title.startswith("Dashboard"))
    check("the hub's counts (2 targets probed)",
          driver.find_element(By.ID, "probed").text == "2")
    check("each count a chart drawn on the server",
          all(driver.find_elements(By.ID, "chart-" + c) for c in
              ("probed", "responders", "routers", "links")))
    check("the most recent results",
          "198.18.1.2" in driver.find_element(By.ID, "recent").text)
    session = driver.get_cookie("hm_session")
    check("the session cookie is HttpOnly, Secure, SameSite=Strict",
          session is not None and session.get("httpOnly") is True
          and session.get("secure") is True
          and session.get("sameSite") == "Strict")

    driver.find_element(By.LINK_TEXT, "Workers").click()
    wait.until(ec.presence_of_element_located((By.ID, "url")))
    driver.find_element(By.ID, "url").send_keys(worker)
    driver.find_element(By.ID, "register").click()
    wait.until(lambda d: row("w1") is not None)
    shot("3-worker-registered")
    check("a worker registered by its URL: name w1, type ping detected",
          row("w1").find_element(By.CLASS_NAME, "type").text == "ping")

    driver.find_element(By.ID, "key-add-w1").click()
    wait.until(ec.presence_of_element_located((By.ID, "newkey")))
    shot("4-new-key")
    key = driver.find_element(By.ID, "newkey").text
    check("a new API key for w1 on the hub, shown once",
          len(key) >= 40 and
          driver.find_element(By.ID, "keyname").text == "w1")
    print("# key %s" % key, flush=True)
    driver.find_element(By.LINK_TEXT, "Back to the workers").click()
    wait.until(ec.presence_of_element_located((By.ID, "key-revoke-w1")))
    driver.find_element(By.ID, "key-revoke-w1").click()
    wait.until(ec.presence_of_element_located((By.ID, "url")))
    shot("5-key-revoked")
    check("its key revoked: back to the workers page",
          driver.title.startswith("Workers") and row("w1") is not None)

    driver.find_element(By.LINK_TEXT, "Map").click()
    img = wait.until(ec.presence_of_element_located((By.ID, "map")))
    wait.until(lambda d: image_shown(img))
    shot("6-map")
    check("the map: hopmap-map's SVG shown", image_shown(img))
    node = driver.find_element(By.ID, "node")
    node.send_keys("w1")
    driver.find_element(By.ID, "filter").click()
    wait.until(ec.url_contains("node=w1"))
    img = wait.until(ec.presence_of_element_located((By.ID, "map")))
    wait.until(lambda d: image_shown(img))
    shot("7-map-w1")
    check("the map filtered by node w1",
          "node=w1" in img.get_attribute("src") and image_shown(img))

    driver.find_element(By.ID, "logout").click()
    wait.until(ec.presence_of_element_located((By.ID, "code")))
    shot("8-logged-out")
    check("logged out: the login form again",
          driver.title.startswith("Log in")
          and driver.get_cookie("hm_session") is None)
    driver.get(url)
    check("after logout the dashboard asks for a login",
          bool(driver.find_elements(By.ID, "code")))
except Exception as e:  # a wait that timed out, a missing element
    check("the browser session: %s" % type(e).__name__, False)
    print("# %s" % e)
    shot("error")
finally:
    driver.quit()
sys.exit(1 if failed else 0)
