"""Headless Chromium logs in to hopmap's manager with a code from oathtool,
sees the dashboard, logs out (driven by Debian's python3-selenium and
chromium-driver).  Prints TAP lines; screenshots go to OUT.

usage: manager_login.py URL USER SECRET OUT
"""
import os
import subprocess
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

url, user, secret, out = sys.argv[1:5]
failed = 0


def check(name, cond):
    global failed
    print(("ok - " if cond else "not ok - ") + name, flush=True)
    failed += not cond


opts = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
          "--disable-dev-shm-usage", "--no-first-run",
          "--disable-background-networking", "--disable-component-update",
          "--disable-sync", "--disable-default-apps",
          "--window-size=1000,800"):
    opts.add_argument(a)
opts.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                          options=opts)
wait = WebDriverWait(driver, 30)
try:
    driver.get(url)
    wait.until(ec.presence_of_element_located((By.ID, "code")))
    driver.save_screenshot(os.path.join(out, "1-login.png"))
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
    driver.save_screenshot(os.path.join(out, "2-dashboard.png"))
    check("logged in with oathtool's code: the dashboard",
          driver.title.startswith("Dashboard"))
    check("the hub's counts (2 targets probed)",
          driver.find_element(By.ID, "probed").text == "2")
    check("the most recent results",
          "198.18.1.2" in driver.find_element(By.ID, "recent").text)
    session = driver.get_cookie("hm_session")
    check("the session cookie is HttpOnly, Secure, SameSite=Strict",
          session is not None and session.get("httpOnly") is True
          and session.get("secure") is True
          and session.get("sameSite") == "Strict")
    driver.find_element(By.ID, "logout").click()
    wait.until(ec.presence_of_element_located((By.ID, "code")))
    driver.save_screenshot(os.path.join(out, "3-logged-out.png"))
    check("logged out: the login form again",
          driver.title.startswith("Log in")
          and driver.get_cookie("hm_session") is None)
    driver.get(url)
    check("after logout the dashboard asks for a login",
          bool(driver.find_elements(By.ID, "code")))
except Exception as e:  # a wait that timed out, a missing element
    check("the browser session: %s" % type(e).__name__, False)
    print("# %s" % e)
    driver.save_screenshot(os.path.join(out, "error.png"))
finally:
    driver.quit()
sys.exit(1 if failed else 0)
