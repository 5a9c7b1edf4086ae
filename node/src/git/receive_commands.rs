//! What receive-pack makes of a push's commands: the shapes git, libgit2 and dulwich send,
//! and the malformed ones, each refused with a message that names what is wrong.

use guts_git::ObjectId;
use guts_git::pktline::PktReader;

use super::receive::{Push, read_commands};

const ZERO: &str = "0000000000000000000000000000000000000000";
const A: &str = "1111111111111111111111111111111111111111";
const B: &str = "2222222222222222222222222222222222222222";

fn pkt(payload: &str) -> String {
    format!("{:04x}{payload}", payload.len() + 4)
}

fn read(request: &str) -> Result<Push, String> {
    read_commands(&mut PktReader::new(request.as_bytes())).map_err(|e| e.public())
}

fn id(hex: &str) -> ObjectId {
    ObjectId::from_hex(hex.as_bytes()).expect("hex")
}

#[test]
fn commands_and_capabilities_as_git_sends_them() {
    let request = format!(
        "{}{}{}0000",
        pkt(&format!(
            "{ZERO} {A} refs/heads/main\0 report-status side-band-64k quiet atomic ofs-delta agent=git/2.47.3\n"
        )),
        pkt(&format!("{A} {B} refs/heads/topic\n")),
        pkt(&format!("{B} {ZERO} refs/tags/old")),
    );
    let push = read(&request).expect("parses");
    assert_eq!(push.commands.len(), 3);
    let c = &push.commands[0];
    assert_eq!(
        (c.old, c.new, c.name.as_str()),
        (ObjectId::ZERO, id(A), "refs/heads/main")
    );
    assert_eq!(push.commands[1].name, "refs/heads/topic");
    assert!(push.commands[2].new.is_zero(), "a deletion");
    assert!(push.report_status && push.sideband && push.quiet && push.atomic);
    assert!(push.push_options.is_empty());
}

#[test]
fn push_options_follow_the_commands() {
    let request = format!(
        "{}0000{}{}0000",
        pkt(&format!(
            "{ZERO} {A} refs/heads/main\0report-status push-options\n"
        )),
        pkt("ci.skip\n"),
        pkt("reviewer=alice"),
    );
    let push = read(&request).expect("parses");
    assert_eq!(push.push_options, ["ci.skip", "reviewer=alice"]);
}

#[test]
fn the_empty_probe_has_no_commands() {
    let push = read("").expect("parses");
    assert!(push.commands.is_empty());
    let push = read("0000").expect("parses");
    assert!(push.commands.is_empty());
}

#[test]
fn malformed_commands_are_refused_and_say_why() {
    for (request, says) in [
        (
            format!("{}0000", pkt(&format!("{ZERO} {A}refs/heads/main"))),
            "malformed command",
        ),
        (
            format!(
                "{}0000",
                pkt(&format!("{ZERO} {} refs/heads/x", "g".repeat(40)))
            ),
            "malformed command",
        ),
        (
            format!("{}0000", pkt(&format!("{ZERO} {A} "))),
            "malformed command",
        ),
        (
            format!(
                "{}{}0000",
                pkt(&format!("{ZERO} {A} refs/heads/a\n")),
                pkt(&format!("{ZERO} {B} refs/heads/b\0report-status\n")),
            ),
            "capabilities after the first command",
        ),
        (
            format!(
                "{}0000",
                pkt(&format!("{ZERO} {A} refs/heads/a\0no-such-thing\n"))
            ),
            "unknown capability",
        ),
        (
            pkt(&format!("{ZERO} {A} refs/heads/a\n")),
            "commands ended before their flush",
        ),
        (
            format!(
                "{}0000{}",
                pkt(&format!("{ZERO} {A} refs/heads/a\0push-options\n")),
                pkt("unterminated"),
            ),
            "push options ended before their flush",
        ),
    ] {
        let err = read(&request)
            .err()
            .unwrap_or_else(|| panic!("accepted: {request:?}"));
        assert!(err.contains(says), "{err:?} should say {says:?}");
    }
}

#[test]
fn a_ref_name_echoed_in_an_error_is_cut_short() {
    let long = format!("{ZERO} {A}x{}", "r".repeat(60_000));
    let err = read(&format!("{}0000", pkt(&long))).expect_err("refused");
    assert!(
        err.chars().count() <= super::MAX_PUBLIC + 3,
        "{}",
        err.len()
    );
}
