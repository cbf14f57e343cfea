//! The manager's dashboard in a real browser: headless Chromium driven over WebDriver
//! (`fieldbook_tests::webdriver`) against a real server. Screenshots of the pages go to
//! `target/screenshots/` for a person to look at.
//!
//! Skips loudly without Chromium unless `FIELDBOOK_REQUIRE_BROWSER` is set (CI sets it).

use fieldbook_server::admin;
use fieldbook_server::storage::{PersonKind, Role};
use fieldbook_server::web::account;
use fieldbook_tests::server::{EAST_AND_NORTH, TestServer};
use fieldbook_tests::webdriver::Browser;

const PASSWORD: &str = "王经理的密码-2026";

/// 华东 and 华北 with 王经理's dashboard password, and 张伟's phone enrolled as 演示手机.
fn company() -> TestServer {
    let server = TestServer::start();
    server.add_company(&EAST_AND_NORTH);
    let s = server.storage();
    account::set_password(s.as_ref(), "wangjl", PASSWORD, server.state.now()).expect("password");
    let token = server.enrolment("zhangwei", Role::Rep, "演示手机");
    admin::redeem(s.as_ref(), &token, "0a0b0c0d", None).expect("enrol the phone");
    server
}

fn log_in(browser: &Browser, server: &TestServer, person: &str, password: &str) {
    browser.goto(&format!("{}/login", server.url()));
    browser.type_into(&browser.find("#person"), person);
    browser.type_into(&browser.find("#password"), password);
    browser.click_and_wait(&browser.find("#login"));
}

#[test]
fn a_manager_logs_in_sees_the_team_and_logs_out() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = company();
    browser.goto(&format!("{}/team", server.url()));
    assert!(
        browser.url().ends_with("/login"),
        "signed out: the login page"
    );
    browser.screenshot("login");

    log_in(&browser, &server, "wangjl", PASSWORD);
    assert!(browser.url().ends_with("/team"), "{}", browser.url());
    let team = browser.text_of("#team");
    for expected in ["张伟", "李娜", "华东区", "华北区", "演示手机"] {
        assert!(team.contains(expected), "{expected} in {team}");
    }
    assert_eq!(browser.find_all("#team tbody tr").len(), 2);
    assert_eq!(browser.text_of(".who .name"), "王经理");
    browser.screenshot("team");
    // A tablet: the page still fits its width (nothing pushes it sideways).
    browser.resize(820, 1180);
    let overflow = browser.script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
    );
    assert_eq!(
        overflow.as_i64(),
        Some(0),
        "the page is wider than a tablet"
    );
    browser.screenshot("team-tablet");
    browser.resize(1280, 900);

    browser.click_and_wait(&browser.find("#logout"));
    assert!(browser.url().ends_with("/login"));
    browser.goto(&format!("{}/team", server.url()));
    assert!(browser.url().ends_with("/login"), "the session ended");
}

#[test]
fn a_reps_correct_password_is_refused_with_a_clear_page() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = company();
    account::set_password(
        server.storage().as_ref(),
        "zhangwei",
        "张伟的密码-2026",
        server.state.now(),
    )
    .expect("rep password");
    log_in(&browser, &server, "zhangwei", "张伟的密码-2026");
    let error = browser.text_of("#login-error");
    assert!(
        error.contains("销售代表") && error.contains("web.not_manager"),
        "{error}"
    );
    browser.screenshot("login-rep-refused");
    browser.goto(&format!("{}/team", server.url()));
    assert!(browser.url().ends_with("/login"), "no session for a rep");

    log_in(&browser, &server, "wangjl", "not the password");
    assert!(browser.text_of("#login-error").contains("web.bad_login"));
}

#[test]
fn a_login_link_works_once() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = company();
    let token =
        account::login_link(server.storage().as_ref(), "wangjl", server.state.now()).expect("link");
    let link = fieldbook_server::web::login_link_url(&server.url(), &token);
    browser.goto(&link);
    // Opening the link spends nothing: a previewer fetching it would not log anyone in.
    browser.goto(&link);
    browser.click_and_wait(&browser.find("#use-link"));
    assert!(browser.url().ends_with("/team"), "{}", browser.url());
    browser.clear_cookies();
    browser.goto(&link);
    browser.click_and_wait(&browser.find("#use-link"));
    assert!(browser.text_of("#error").contains("web.bad_link"));
}

#[test]
fn markup_and_terminal_escapes_in_names_stay_inert() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = company();
    let s = server.storage();
    let payload =
        "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">\u{1b}[31m红";
    admin::add_person(s.as_ref(), "xss", payload, PersonKind::Rep).expect("person");
    admin::add_territory(
        s.as_ref(),
        "west",
        "华西区\" onmouseover=\"window.__xss=3",
        Some("wangjl"),
    )
    .expect("territory");
    admin::assign_territory(s.as_ref(), "west", "xss").expect("assign");
    let token = server.enrolment("xss", Role::Rep, "'><svg onload=window.__xss=4>");
    admin::redeem(s.as_ref(), &token, "0e0f", None).expect("enrol");

    log_in(&browser, &server, "wangjl", PASSWORD);
    let dom = browser.script(
        "return {
            scripts: document.querySelectorAll('script').length,
            injected: document.querySelectorAll('img, svg, [onerror], [onmouseover], [onload]').length,
            fired: window.__xss === undefined ? null : window.__xss,
            name: document.querySelector('[data-rep=xss] .rep-name').textContent,
            device: document.querySelector('[data-rep=xss] .device').textContent,
        }",
    );
    assert_eq!(dom["scripts"], 0, "{dom}");
    assert_eq!(dom["injected"], 0, "{dom}");
    assert!(dom["fired"].is_null(), "{dom}");
    let name = dom["name"].as_str().expect("name");
    assert!(
        name.starts_with("<script>window.__xss=1</script><img src=x"),
        "{name}"
    );
    assert!(
        name.ends_with("␛[31m红") && !name.contains('\u{1b}'),
        "{name}"
    );
    assert_eq!(dom["device"], "'><svg onload=window.__xss=4>");
    browser.screenshot("team-xss");
}
