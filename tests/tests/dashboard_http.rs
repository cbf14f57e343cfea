//! The dashboard over plain HTTP (no browser): the headers every page carries, the
//! cookie's attributes, and the refusals a browser test cannot provoke (forms from
//! another origin, a wrong CSRF token, an expired session, the login limit).

use fieldbook_server::web::account;
use fieldbook_tests::server::{EAST_AND_NORTH, TestServer};
use reqwest::blocking::{Client, Response};
use reqwest::header;

const PASSWORD: &str = "王经理的密码-2026";

fn server() -> TestServer {
    let server = TestServer::start();
    server.add_company(&EAST_AND_NORTH);
    account::set_password(
        server.storage().as_ref(),
        "wangjl",
        PASSWORD,
        server.state.now(),
    )
    .expect("password");
    server
}

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn login(server: &TestServer, person: &str, password: &str, origin: Option<&str>) -> Response {
    let mut request = client()
        .post(format!("{}/login", server.url()))
        .form(&[("person", person), ("password", password)]);
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    request.send().expect("login")
}

/// The `fieldbook_session=...` pair of a login's `Set-Cookie`.
fn session_cookie(response: &Response) -> String {
    let set = response
        .headers()
        .get(header::SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .expect("ascii");
    set.split(';').next().expect("pair").to_owned()
}

fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..at + 64].to_owned()
}

#[test]
fn pages_carry_a_strict_csp_and_the_cookie_is_http_only_and_strict() {
    let server = server();
    let page = client()
        .get(format!("{}/login", server.url()))
        .send()
        .expect("login page");
    assert_eq!(page.status(), 200);
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers()[header::X_FRAME_OPTIONS], "DENY");
    let html = page.text().expect("html");
    assert!(
        !html.contains("<script") && !html.contains("style="),
        "no inline script or style"
    );

    let origin = server.url();
    let ok = login(&server, "wangjl", PASSWORD, Some(&origin));
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()[header::LOCATION], "/team");
    let set = ok.headers()[header::SET_COOKIE].to_str().expect("cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain http by default");
    // The token is stored only hashed: its text is nowhere in the database file.
    let cookie = session_cookie(&ok);
    let token = cookie.trim_start_matches("fieldbook_session=");
    let db = std::fs::read(server.db_path()).expect("db");
    let wal = std::fs::read(server.db_path().with_extension("db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the session token is stored in clear"
        );
    }
    let team = client()
        .get(format!("{}/team", server.url()))
        .header(header::COOKIE, &cookie)
        .send()
        .expect("team");
    assert_eq!(team.status(), 200);
    assert!(team.text().expect("html").contains("张伟"));
}

#[test]
fn a_login_form_from_another_origin_is_refused() {
    let server = server();
    for origin in [Some("http://evil.example"), None] {
        let response = login(&server, "wangjl", PASSWORD, origin);
        assert_eq!(response.status(), 403, "{origin:?}");
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        assert!(response.text().expect("html").contains("web.bad_origin"));
    }
}

#[test]
fn logout_needs_the_sessions_csrf_token_and_ends_the_session() {
    let server = server();
    let origin = server.url();
    let cookie = session_cookie(&login(&server, "wangjl", PASSWORD, Some(&origin)));
    let team = client()
        .get(format!("{}/team", server.url()))
        .header(header::COOKIE, &cookie)
        .send()
        .expect("team")
        .text()
        .expect("html");
    let csrf = csrf_of(&team);
    let logout = |csrf: &str, origin: &str| {
        client()
            .post(format!("{}/logout", server.url()))
            .header(header::COOKIE, &cookie)
            .header(header::ORIGIN, origin)
            .form(&[("csrf", csrf)])
            .send()
            .expect("logout")
    };
    let forged = logout(&"0".repeat(64), &origin);
    assert_eq!(forged.status(), 403);
    assert!(forged.text().expect("html").contains("web.bad_csrf"));
    assert_eq!(logout(&csrf, "http://evil.example").status(), 403);
    let out = logout(&csrf, &origin);
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()[header::SET_COOKIE]
            .to_str()
            .expect("cookie")
            .contains("Max-Age=0")
    );
    let after = client()
        .get(format!("{}/team", server.url()))
        .header(header::COOKIE, &cookie)
        .send()
        .expect("team");
    assert_eq!(after.status(), 303);
    assert_eq!(after.headers()[header::LOCATION], "/login");
}

#[test]
fn a_session_ends_by_the_servers_clock() {
    let server = server();
    let origin = server.url();
    let cookie = session_cookie(&login(&server, "wangjl", PASSWORD, Some(&origin)));
    let get = || {
        client()
            .get(format!("{}/team", server.url()))
            .header(header::COOKIE, &cookie)
            .send()
            .expect("team")
            .status()
    };
    assert_eq!(get(), 200);
    server.state.clock.advance(account::SESSION_SECS + 1);
    assert_eq!(get(), 303);
}

#[test]
fn failed_logins_are_limited_and_a_rep_is_refused() {
    let server = server();
    let origin = server.url();
    account::set_password(
        server.storage().as_ref(),
        "zhangwei",
        "张伟的密码-2026",
        server.state.now(),
    )
    .expect("rep password");
    let rep = login(&server, "zhangwei", "张伟的密码-2026", Some(&origin));
    assert_eq!(rep.status(), 403);
    assert!(rep.headers().get(header::SET_COOKIE).is_none());
    assert!(rep.text().expect("html").contains("web.not_manager"));

    for _ in 0..account::MAX_FAILURES {
        assert_eq!(
            login(&server, "wangjl", "not the password", Some(&origin)).status(),
            401
        );
    }
    let limited = login(&server, "wangjl", PASSWORD, Some(&origin));
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().get(header::RETRY_AFTER).is_some());
    server.state.clock.advance(account::FAILURE_WINDOW_SECS + 1);
    assert_eq!(
        login(&server, "wangjl", PASSWORD, Some(&origin)).status(),
        303
    );
}

#[test]
fn the_demo_prints_a_manager_login_that_works() {
    let server = TestServer::start();
    let s = server.storage();
    fieldbook_server::demo::seed(s.as_ref(), 1, chrono::Utc::now().date_naive()).expect("seed");
    let token = fieldbook_server::demo::dashboard_login(s.as_ref(), server.state.now())
        .expect("demo login");
    let origin = server.url();
    let by_password = login(
        &server,
        fieldbook_server::demo::MANAGER.0,
        fieldbook_server::demo::MANAGER_PASSWORD,
        Some(&origin),
    );
    assert_eq!(by_password.status(), 303);
    let by_link = client()
        .post(format!("{}/login/link", server.url()))
        .header(header::ORIGIN, &origin)
        .form(&[("token", token.as_str())])
        .send()
        .expect("link");
    assert_eq!(by_link.status(), 303);
    assert_eq!(by_link.headers()[header::LOCATION], "/team");

    // Every page of the demo renders, every demo card among them.
    let cookie = session_cookie(&by_password);
    let get = |path: &str| {
        let r = client()
            .get(format!("{}{path}", server.url()))
            .header(header::COOKIE, &cookie)
            .send()
            .expect("page");
        let status = r.status().as_u16();
        (status, r.text().expect("body"))
    };
    let cards: serde_json::Value =
        serde_json::from_str(&get("/v1/manager/cards?per_page=200").1).expect("cards json");
    let ids: Vec<&str> = cards["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert!(!ids.is_empty());
    assert_eq!(cards["total"].as_u64(), Some(ids.len() as u64));
    let mut pages: Vec<String> = [
        "/team",
        "/cards",
        "/cards?q=%E5%8D%8E%E4%B8%9C&sort=updated&desc=1",
        "/cards?conflicted=1&class=A",
        "/activity",
        "/activity?period=week",
        "/activity?period=month",
        "/handoff",
        "/review",
        "/analysis",
        "/analysis?date=2026-11-15",
        "/settings",
    ]
    .map(String::from)
    .to_vec();
    pages.extend(ids.iter().map(|id| format!("/cards/{id}")));
    for path in &pages {
        let (status, html) = get(path);
        assert_eq!(status, 200, "{path}: {html}");
        assert!(!html.contains("<script"), "{path}");
    }
    // Input the pages refuse: a clear 400 page with the stable code.
    for path in [
        "/cards?page=x",
        "/activity?from=2026-13-01",
        "/activity?from=2026-12-01&to=2026-01-01",
    ] {
        let (status, html) = get(path);
        assert_eq!(status, 400, "{path}");
        assert!(html.contains("request.invalid"), "{path}: {html}");
    }
}

/// The 设置 form saves through the same validation as the API: what does not add up is
/// shown with its reason and the previous settings stay; a good save raises the revision;
/// a form from a revision no longer in force is refused.
#[test]
fn the_settings_form_saves_refuses_and_keeps_the_previous_settings() {
    let server = server();
    let origin = server.url();
    let cookie = session_cookie(&login(&server, "wangjl", PASSWORD, Some(&origin)));
    let page = |path: &str| {
        client()
            .get(format!("{}{path}", server.url()))
            .header(header::COOKIE, &cookie)
            .send()
            .expect("page")
            .text()
            .expect("html")
    };
    let post = |fields: &[(&str, &str)]| {
        client()
            .post(format!("{}/settings", server.url()))
            .header(header::COOKIE, &cookie)
            .header(header::ORIGIN, &origin)
            .form(fields)
            .send()
            .expect("post")
    };
    let html = page("/settings");
    assert!(
        html.contains("id=\"visits.interval_days_a\" value=\"7\""),
        "{html}"
    );
    assert!(html.contains("A 类客户拜访间隔（天）"));
    let csrf = csrf_of(&html);

    // A split of 80/20/5 does not add up: refused with its reason, nothing stored.
    let refused = post(&[("csrf", &csrf), ("revision", "0"), ("abc.a_percent", "80")]);
    assert_eq!(refused.status(), 200);
    let html = refused.text().expect("html");
    assert!(
        html.contains("id=\"settings-error\"") && html.contains("settings.invalid"),
        "{html}"
    );
    assert!(
        html.contains("id=\"abc.a_percent\" value=\"80\""),
        "the posted value is shown"
    );
    let storage = server.storage();
    assert_eq!(storage.company_settings().expect("read"), None);

    // Every 3 days for A customers: saved as revision 1.
    let saved = post(&[
        ("csrf", &csrf),
        ("revision", "0"),
        ("visits.interval_days_a", "3"),
    ]);
    let html = saved.text().expect("html");
    assert!(html.contains("id=\"saved\""), "{html}");
    assert!(html.contains("id=\"visits.interval_days_a\" value=\"3\""));
    let stored = storage.company_settings().expect("read").expect("saved");
    assert_eq!((stored.revision, stored.set_by.as_str()), (1, "wangjl"));

    // The same form again, from revision 0: someone saved meanwhile.
    let stale = post(&[
        ("csrf", &csrf),
        ("revision", "0"),
        ("visits.interval_days_a", "5"),
    ]);
    let html = stale.text().expect("html");
    assert!(html.contains("settings.conflict"), "{html}");
    assert_eq!(
        storage
            .company_settings()
            .expect("read")
            .expect("kept")
            .revision,
        1
    );
    // Without the session's token, nothing happens at all.
    let forged = post(&[("csrf", &"0".repeat(64)), ("revision", "1")]);
    assert_eq!(forged.status(), 403);
}

#[test]
fn the_review_page_lists_the_queue_and_its_forms_need_the_csrf_token() {
    let server = server();
    let origin = server.url();
    let cookie = session_cookie(&login(&server, "wangjl", PASSWORD, Some(&origin)));
    let page = client()
        .get(format!("{}/review", server.url()))
        .header(header::COOKIE, &cookie)
        .send()
        .expect("review");
    assert_eq!(page.status(), 200);
    let html = page.text().expect("html");
    assert!(html.contains("id=\"review-empty\""));
    // With the right token, an item the manager cannot see is refused like a missing one.
    let unknown = client()
        .post(format!("{}/review/999/accept", server.url()))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, &origin)
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .expect("accept");
    assert_eq!(unknown.status(), 403);
    assert!(unknown.text().expect("html").contains("access.denied"));
    let forged = client()
        .post(format!("{}/review/1/discard", server.url()))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, &origin)
        .form(&[("csrf", "0".repeat(64))])
        .send()
        .expect("discard");
    assert_eq!(forged.status(), 403);
    assert!(forged.text().expect("html").contains("web.bad_csrf"));
}

#[test]
fn a_session_cookie_is_a_viewer_of_the_json_api_but_posts_need_this_origin() {
    let server = server();
    let origin = server.url();
    let cookie = session_cookie(&login(&server, "wangjl", PASSWORD, Some(&origin)));
    let list = client()
        .get(format!("{}/v1/manager/review", server.url()))
        .header(header::COOKIE, &cookie)
        .send()
        .expect("review list");
    assert_eq!(list.status(), 200);
    let body: serde_json::Value = list.json().expect("json");
    assert_eq!(body["total"], 0);
    let cross_site = client()
        .post(format!("{}/v1/manager/review/1/discard", server.url()))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "http://evil.example")
        .json(&serde_json::json!({}))
        .send()
        .expect("discard");
    assert_eq!(cross_site.status(), 403);
    let body: serde_json::Value = cross_site.json().expect("json");
    assert_eq!(body["code"], "access.denied");
    let signed_out = client()
        .get(format!("{}/v1/manager/review", server.url()))
        .header(header::COOKIE, "fieldbook_session=fbw_not-a-session")
        .send()
        .expect("review list");
    assert_eq!(signed_out.status(), 401);
}
