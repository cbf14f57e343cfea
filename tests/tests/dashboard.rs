//! The manager's dashboard in a real browser: headless Chromium driven over WebDriver
//! (`fieldbook_tests::webdriver`) against a real server. Screenshots of the pages go to
//! `target/screenshots/` for a person to look at.
//!
//! Skips loudly without Chromium unless `FIELDBOOK_REQUIRE_BROWSER` is set (CI sets it).

use fieldbook_server::admin;
use fieldbook_server::storage::{PersonKind, Role};
use fieldbook_server::web::account;
use fieldbook_tests::device::Device;
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

/// The page fits a tablet's width: nothing pushes it sideways.
fn fits_a_tablet(browser: &Browser, page: &str) {
    browser.resize(820, 1180);
    let overflow = browser.script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
    );
    assert_eq!(overflow.as_i64(), Some(0), "{page} is wider than a tablet");
    browser.screenshot(&format!("{page}-tablet"));
    browser.resize(1280, 900);
}

/// A manager's day in the browser, on cards real phones synced: search a Chinese name,
/// open the card (sections, a conflict with both values and their devices, the history
/// naming 演示手机, the visit), read the activity chart, hand the territory over with its
/// preview, and accept the previous owner's late edit from the review queue.
#[test]
fn a_manager_searches_opens_a_conflicted_card_hands_over_and_reviews() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = TestServer::start();
    server.add_company(&EAST_AND_NORTH);
    account::set_password(
        server.storage().as_ref(),
        "wangjl",
        PASSWORD,
        server.state.now(),
    )
    .expect("password");
    let mut phone = Device::enrol_named(&server, "zhangwei", Role::Rep, "演示手机");
    let mut tablet = Device::enrol_named(&server, "zhangwei", Role::Rep, "张伟的平板");
    let food = phone.new_card("上海华东食品有限公司", "east");
    phone.set(&food, "basic.phone", "021-62345678");
    phone.set(&food, "classification.abc", "A");
    phone.visit(&food, "拜访采购部王经理，谈新品试销");
    let steel = phone.new_card("宝山钢材贸易公司", "east");
    phone.set(&steel, "basic.phone", "13912345678");
    phone.sync();
    tablet.sync();
    // Both devices change the same phone number offline: a conflict.
    phone.set(&food, "basic.phone", "021-60000001");
    tablet.set(&food, "basic.phone", "021-60000002");
    phone.sync();
    tablet.sync();

    log_in(&browser, &server, "wangjl", PASSWORD);
    browser.click_and_wait(&browser.find("nav.tabs a[href='/cards']"));
    assert_eq!(browser.find_all("#cards tbody tr").len(), 2);
    browser.type_into(&browser.find("#q"), "华东");
    browser.click_and_wait(&browser.find("#search"));
    let rows = browser.find_all("#cards tbody tr");
    assert_eq!(rows.len(), 1, "two Chinese characters find one card");
    let row = browser.text_of("#cards tbody tr");
    assert!(
        row.contains("上海华东食品有限公司") && row.contains("张伟"),
        "{row}"
    );
    assert!(
        browser
            .try_find("#cards tbody tr.conflicted .conflict-flag")
            .is_some(),
        "the conflict is flagged in the list"
    );
    browser.screenshot("cards-search");
    // A phone fragment finds the other one.
    browser.type_into(&browser.find("#q"), "912345");
    browser.click_and_wait(&browser.find("#search"));
    assert!(browser.text_of("#cards tbody").contains("宝山钢材贸易公司"));
    browser.type_into(&browser.find("#q"), "华东");
    browser.click_and_wait(&browser.find("#search"));

    browser.click_and_wait(&browser.find("#cards .card-link"));
    assert_eq!(browser.text_of("#card-name"), "上海华东食品有限公司");
    let sections = browser.text_of(".sections");
    assert!(sections.contains("基础资料"), "{sections}");
    let conflicts = browser.text_of("#conflicts");
    for expected in [
        "021-60000001",
        "021-60000002",
        "演示手机",
        "张伟的平板",
        "当前显示",
    ] {
        assert!(conflicts.contains(expected), "{expected} in {conflicts}");
    }
    assert_eq!(browser.find_all("#conflicts .conflict-value").len(), 2);
    let history = browser.text_of("#history-table");
    assert!(
        history.contains("演示手机（销售）") && history.contains("张伟的平板（销售）"),
        "{history}"
    );
    assert!(history.contains("基础资料 · 电话"), "{history}");
    assert!(browser.text_of("#visits").contains("拜访采购部王经理"));
    assert!(browser.text_of("#assignments").contains("张伟"));
    browser.screenshot("card");
    fits_a_tablet(&browser, "card");

    // Activity: the chart has bars, the table the visit.
    browser.click_and_wait(&browser.find("nav.tabs a[href='/activity']"));
    let bars = browser.script(
        "return document.querySelectorAll('#activity-chart svg rect.s0, #activity-chart svg rect.s1, #activity-chart svg rect.s2').length",
    );
    assert!(bars.as_u64().unwrap_or(0) > 0, "bars: {bars}");
    let reps = browser.text_of("#activity-reps");
    assert!(reps.contains("张伟"), "{reps}");
    assert_eq!(
        browser.text_of("#activity-reps [data-rep=zhangwei] .visits"),
        "1"
    );
    browser.screenshot("activity");
    fits_a_tablet(&browser, "activity");
    // ABC: both cards listed, with the hand-set A beside the computed class (no sales yet).
    browser.click_and_wait(&browser.find("nav.tabs a[href='/analysis']"));
    assert_eq!(browser.find_all("#abc tbody tr").len(), 2);
    assert!(browser.text_of("#abc").contains("与计算不同"));
    browser.screenshot("analysis");

    // An edit 张伟 makes offline before the handoff, synced long after it.
    phone.set(&steel, "basic.address", "上海市宝山区友谊路1号");

    // Handoff: the preview says what will move; confirming moves exactly that.
    browser.click_and_wait(&browser.find("nav.tabs a[href='/handoff']"));
    browser.select("#territory", "east");
    browser.select("#to", "lina");
    browser.type_into(&browser.find("#reason"), "张伟调往华北区");
    browser.click_and_wait(&browser.find("#preview"));
    assert_eq!(browser.text_of("#preview-count"), "2");
    assert_eq!(browser.text_of("#preview-from"), "张伟");
    assert_eq!(browser.text_of("#preview-to"), "李娜");
    browser.screenshot("handoff-preview");
    browser.click_and_wait(&browser.find("#confirm"));
    assert_eq!(browser.text_of("#done-count"), "2");
    browser.goto(&format!("{}/handoff", server.url()));
    assert_eq!(
        browser.text_of("#territories [data-territory=east] .owner"),
        "李娜"
    );

    // Past the grace period the edit goes to review; the manager accepts it.
    server.state.clock.advance(8 * 24 * 3600);
    let report = phone.sync();
    assert_eq!(report.to_review.len(), 1, "{report:?}");
    // A week later the dashboard session has expired too.
    browser.goto(&format!("{}/review", server.url()));
    assert!(browser.url().ends_with("/login"));
    log_in(&browser, &server, "wangjl", PASSWORD);
    browser.click_and_wait(&browser.find("nav.tabs a[href='/review']"));
    let review = browser.text_of("#review");
    assert!(
        review.contains("宝山钢材贸易公司") && review.contains("待审核"),
        "{review}"
    );
    browser.screenshot("review");
    browser.click_and_wait(&browser.find("#review .accept"));
    assert!(browser.text_of("#review").contains("已接受"));
    let mut lina = Device::enrol_named(&server, "lina", Role::Rep, "李娜的手机");
    lina.sync();
    let card = lina.store.card(&steel).expect("the card is 李娜's now");
    assert_eq!(
        card.card.basic.address.as_deref(),
        Some("上海市宝山区友谊路1号"),
        "the accepted edit reached the new owner"
    );
    browser.goto(&format!("{}/cards/{}", server.url(), steel.as_str()));
    let history = browser.text_of("#history-table");
    assert!(
        history.contains("迟到修改"),
        "the accepted edit is marked late: {history}"
    );
    let assignments = browser.text_of("#assignments");
    assert!(
        assignments.contains("李娜") && assignments.contains("张伟调往华北区"),
        "{assignments}"
    );
    browser.screenshot("card-after-handoff");
}
