//! Shared set-up for the sync scenarios: a company on a fresh server, and devices.

use fieldbook_tests::server::EAST_AND_NORTH;

/// A phone: a real store enrolled with the server.
pub use fieldbook_tests::device::Device;

/// The shared test server, with the company of these scenarios ([`EAST_AND_NORTH`]).
pub use fieldbook_tests::server::TestServer as Server;

/// 华东 (east, held by 张伟) and 华北 (north, held by 李娜), both managed by 王经理.
pub fn company(server: &Server) {
    server.add_company(&EAST_AND_NORTH);
}
