#!/usr/bin/env python3
"""The dashboard in a real browser: headless Chromium driven by Selenium against a running stack.

Opens the overview and watches its counts change (through the live stream, without a reload)
after tasks are created through the API; opens a failed task, presses Retry and sees it complete;
pauses a priority, sees its work wait, resumes it and sees the work run; bulk-retries a filter
after a confirmation that names how many tasks it touches. Screenshots of every page go to
--screenshots, at 1280x800 and, for the overview, on a 390x844 phone screen.

Usage: dashboard_browser_test.py --url http://127.0.0.1:18080 --screenshots DIR
"""
import argparse
import json
import os
import sys
import time
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait


def api(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
        return json.loads(text) if text else None


def number(text):
    return int(text.replace(",", "").strip() or "0")


def wait_for(description, condition, timeout=30):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = condition()
            if last:
                return last
        except Exception as error:  # an element replaced mid-read; try again
            last = error
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {description} (last: {last!r})")


def task_status(base, task_id):
    return api(base, "GET", f"/api/v1/tasks/{task_id}")["status"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()
    base = args.url.rstrip("/")
    os.makedirs(args.screenshots, exist_ok=True)

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    # A click that submits a form may return before the next page is in: look for elements
    # for up to 10 s, and wait for state that the old page also shows (wait_for).
    driver.implicitly_wait(10)

    def shot(name):
        path = os.path.join(args.screenshots, f"{name}.png")
        driver.save_screenshot(path)
        print(f"   screenshot: {path}")

    def submit(form_id):
        driver.find_element(By.CSS_SELECTOR, f"#{form_id} button[type=submit]").click()

    for priority in ("high", "normal", "low"):  # whatever an earlier run left paused
        api(base, "POST", f"/api/v1/queues/{priority}/resume")
    try:
        # / goes to the dashboard.
        driver.get(base + "/")
        assert driver.current_url.rstrip("/").endswith("/dashboard"), driver.current_url
        wait_for("the live stream to connect", lambda: driver.find_element(By.ID, "live-state").text == "on")

        # 1. The overview's counts change after tasks are created through the API, without a reload.
        marker = driver.execute_script("window.__notReloaded = true; return true;")
        assert marker
        before = number(driver.find_element(By.ID, "count-completed").text)
        created = [api(base, "POST", "/api/v1/tasks", {"type": "demo", "payload": {"browser": i}})["id"] for i in range(12)]
        wait_for("the completed count to grow by 12",
                 lambda: number(driver.find_element(By.ID, "count-completed").text) >= before + 12)
        assert driver.execute_script("return window.__notReloaded === true;"), "the page was reloaded"
        wait_for("the chart to show completions", lambda: "completed" in driver.find_element(By.CSS_SELECTOR, "#throughput svg").get_attribute("innerHTML"))
        wait_for("a worker in the workers table", lambda: driver.find_elements(By.CSS_SELECTOR, "#workers tr.worker-online"))
        assert not driver.find_element(By.ID, "no-workers").is_displayed(), "'no workers online' shown while workers run"
        print(f"   ok: overview counted {len(created)} new completions live (completed {before} -> "
              f"{driver.find_element(By.ID, 'count-completed').text})")
        shot("overview")

        # 2. A failed task: open it, press Retry, see it complete.
        failed = api(base, "POST", "/api/v1/tasks", {"type": "fail", "payload": {"times": 1}, "max_attempts": 1})["id"]
        wait_for("the task to fail", lambda: task_status(base, failed) == "failed")
        driver.get(f"{base}/dashboard/tasks/{failed}")
        assert driver.find_element(By.ID, "task-status").text.startswith("failed")
        assert "deliberate failure" in driver.find_element(By.ID, "timeline").text
        shot("task-failed")
        driver.find_element(By.ID, "retry").click()
        assert "fresh set of attempts" in driver.find_element(By.ID, "flash").text
        def completed_on_page():
            driver.refresh()
            return driver.find_element(By.ID, "task-status").text.startswith("completed")
        wait_for("the retried task to complete", completed_on_page)
        attempts = driver.find_elements(By.CSS_SELECTOR, "#timeline li")
        assert len(attempts) == 2, f"expected 2 attempts on the timeline, saw {len(attempts)}"
        # Retrying it again is refused, with the reason shown.
        driver.find_element(By.ID, "retry").click()
        wait_for("the refusal's reason", lambda: "cannot retry a task that is completed" in driver.find_element(By.ID, "flash").text, timeout=10)
        print("   ok: a failed task retried from its page completed; a second retry showed its 409 reason")
        shot("task")

        # 3. Pause a priority, see its work wait, resume, see it run.
        driver.get(base + "/dashboard/queues")
        driver.find_element(By.ID, "pause-low").click()
        assert "Priority low paused" in driver.find_element(By.ID, "flash").text
        wait_for("low to show as paused", lambda: driver.find_element(By.ID, "priority-state-low").text == "paused", timeout=10)
        time.sleep(2)  # a pause reaches every worker within a second (their control loop)
        waiting = [api(base, "POST", "/api/v1/tasks", {"type": "demo", "payload": {"paused": i}, "priority": "low"})["id"] for i in range(5)]
        time.sleep(3)
        statuses = {task_status(base, task_id) for task_id in waiting}
        assert statuses == {"queued"}, f"tasks of a paused priority ran: {statuses}"
        driver.get(base + "/dashboard/queues")
        shot("queues")
        driver.find_element(By.ID, "resume-low").click()
        wait_for("low to show as running", lambda: driver.find_element(By.ID, "priority-state-low").text == "running", timeout=10)
        wait_for("the held low tasks to complete", lambda: all(task_status(base, t) == "completed" for t in waiting))
        print("   ok: paused low kept 5 tasks queued for 3 s; after resume they completed")

        # 4. Bulk retry of a filter, after a confirmation naming the count.
        dead = [api(base, "POST", "/api/v1/tasks", {"type": "fail", "payload": {"times": 1, "group": i}, "max_attempts": 1})["id"]
                for i in range(4)]
        wait_for("4 tasks to fail", lambda: all(task_status(base, t) == "failed" for t in dead))
        driver.get(base + "/dashboard/failed")
        assert driver.find_element(By.ID, "failure-groups").text.count("fail") >= 1
        shot("failed")
        Select(driver.find_element(By.ID, "bulk-action")).select_by_value("retry")
        driver.find_element(By.ID, "bulk-type").send_keys("fail")
        driver.find_element(By.ID, "bulk-preview").click()
        count = int(driver.find_element(By.ID, "confirm-count").get_attribute("data-count").replace(",", ""))
        listed, cursor = 0, ""
        while True:
            page = api(base, "GET", f"/api/v1/tasks?status=failed&type=fail&limit=200{cursor}")
            listed += len(page["tasks"])
            if not page["next_cursor"]:
                break
            cursor = "&cursor=" + urllib.parse.quote(page["next_cursor"])
        assert count == listed, f"confirmation names {count}, the API lists {listed}"
        assert count >= 4
        shot("confirm")
        driver.find_element(By.ID, "confirm").click()
        assert f"Retried {count} failed tasks" in driver.find_element(By.ID, "flash").text, driver.find_element(By.ID, "flash").text
        wait_for("the bulk-retried tasks to complete", lambda: all(task_status(base, t) == "completed" for t in dead))
        print(f"   ok: bulk retry confirmed {count} tasks by count, retried them, and they completed")

        # The other pages render.
        for page, marker_id in (("tasks", "task-list"), ("schedules", "main")):
            driver.get(f"{base}/dashboard/{page}")
            driver.find_element(By.ID, marker_id)
            shot(page)

        # A phone screen: the overview fits without sideways scrolling of the page.
        driver.set_window_size(390, 844)
        driver.get(base + "/dashboard")
        wait_for("the live stream to connect", lambda: driver.find_element(By.ID, "live-state").text == "on")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth;")
        assert overflow <= 1, f"the overview is {overflow} px wider than a 390 px screen"
        shot("overview-phone")
        # Keyboard: the skip link is the first stop, and it leads to the content.
        driver.find_element(By.TAG_NAME, "body").send_keys("\t")
        focused = driver.switch_to.active_element
        assert focused.text == "Skip to content", f"first tab stop is {focused.text!r}"
        print("   ok: the overview fits a 390x844 screen; the first tab stop skips to the content")
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
