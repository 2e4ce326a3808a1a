//! The SSRF guard: which addresses a URL taken from input (a webhook, a callback, a CRM
//! endpoint) may reach. Pure functions over literal addresses, so every range is
//! unit-tested without opening a connection.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Host names of cloud metadata services, refused whatever they resolve to.
const METADATA_NAMES: &[&str] = &[
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.com",
];

/// Why an address may not be reached, or `None` when it is a public address.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let reason = match (a, b, c) {
        (0, _, _) => "unspecified (0.0.0.0/8)",
        (10, _, _) => "private (10.0.0.0/8)",
        (100, 64..=127, _) => "carrier-grade NAT (100.64.0.0/10)",
        (127, _, _) => "loopback (127.0.0.0/8)",
        (169, 254, _) => "link-local (169.254.0.0/16)",
        (172, 16..=31, _) => "private (172.16.0.0/12)",
        (192, 0, 0) => "IETF protocol assignments (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 88, 99) => "6to4 relay anycast (192.88.99.0/24)",
        (192, 168, _) => "private (192.168.0.0/16)",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (224..=239, _, _) => "multicast (224.0.0.0/4)",
        (240..=255, _, _) => "reserved or broadcast (240.0.0.0/4)",
        _ => return None,
    };
    Some(reason)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified (::)");
    }
    if ip.is_loopback() {
        return Some("loopback (::1)");
    }
    // Forms that carry an IPv4 address: judged by that address.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let carried = match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(embedded(hi, lo)), // IPv4-mapped ::ffff:a.b.c.d
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => Some(embedded(hi, lo)), // IPv4-translated ::ffff:0:a.b.c.d (SIIT)
        [0, 0, 0, 0, 0, 0, hi, lo] => Some(embedded(hi, lo)),      // IPv4-compatible ::a.b.c.d
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(embedded(hi, lo)), // NAT64 64:ff9b::/96
        [0x2002, hi, lo, ..] => Some(embedded(hi, lo)),            // 6to4 2002::/16
        _ => None,
    };
    if let Some(v4) = carried {
        return forbidden_v4(v4).map(|_| "an IPv4 address in a forbidden range, in IPv6 form");
    }
    let reason = match s[0] {
        0x0064 if s[1] == 0xff9b && s[2] == 1 => "local-use NAT64 (64:ff9b:1::/48)",
        0x0100 if s[1..4] == [0, 0, 0] => "discard-only (100::/64)",
        0x2001 if s[1] == 0 => "Teredo (2001::/32)",
        0x2001 if s[1] == 0x0db8 => "documentation (2001:db8::/32)",
        x if x & 0xfe00 == 0xfc00 => "unique-local (fc00::/7)",
        x if x & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        x if x & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        x if x & 0xff00 == 0xff00 => "multicast (ff00::/8)",
        _ => return None,
    };
    Some(reason)
}

/// Whether `host` (a name, not an address) names a cloud metadata service.
pub fn is_metadata_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    METADATA_NAMES.contains(&host.as_str())
}

/// Networks exempt from the guard (`webhooks.allow_targets`): an on-premise CRM, the tests.
#[derive(Debug, Clone, Default)]
pub struct AllowList(Vec<IpNet>);

impl AllowList {
    /// Parses CIDRs (`10.0.0.0/8`) or single addresses (`127.0.0.1`).
    pub fn parse(items: &[String]) -> Result<AllowList, String> {
        items
            .iter()
            .map(|item| {
                let item = item.trim();
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{item}` is not a CIDR or an IP address"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(AllowList)
    }

    fn allows(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// `Err(reason)` when `ip` is in a forbidden range and not exempt.
    pub fn vet(&self, ip: IpAddr) -> Result<(), String> {
        if self.allows(ip) {
            return Ok(());
        }
        match forbidden_reason(ip) {
            Some(reason) => Err(format!("{ip} is {reason}")),
            None => Ok(()),
        }
    }
}

/// Checks a URL given in a request before it is stored: http(s), at most 2048 bytes, no
/// credentials, no metadata host, and no literal address in a forbidden range. A host
/// name is vetted again, by every address it resolves to, when it is called.
pub fn check_url(raw: &str, allow: &AllowList) -> Result<url::Url, String> {
    if raw.len() > 2048 {
        return Err("at most 2048 bytes".into());
    }
    let url = url::Url::parse(raw).map_err(|e| format!("not an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be http or https".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    // `url` has already read the WHATWG forms of an IPv4 address (`0x7f000001`, `2130706433`,
    // `0177.0.0.1`) as the address they stand for.
    match url.host() {
        None => Err("has no host".into()),
        Some(url::Host::Ipv4(v4)) => allow.vet(IpAddr::V4(v4)).map(|()| url.clone()),
        Some(url::Host::Ipv6(v6)) => allow.vet(IpAddr::V6(v6)).map(|()| url.clone()),
        Some(url::Host::Domain(name)) if is_metadata_name(name) => {
            Err(format!("{name} is a cloud metadata service"))
        }
        Some(url::Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") => {
            match allow.vet(IpAddr::V4(Ipv4Addr::LOCALHOST)) {
                Ok(()) => Ok(url.clone()),
                Err(_) => Err("localhost is loopback".into()),
            }
        }
        Some(url::Host::Domain(_)) => Ok(url.clone()),
    }
    .map_err(|reason| format!("refused: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_forbidden_range_is_refused() {
        for addr in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:0:127.0.0.1",
            "::ffff:0:a9fe:a9fe",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(
                forbidden_reason(ip(addr)).is_some(),
                "{addr} must be refused"
            );
        }
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "77.88.55.242",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "198.20.0.1",
            "223.255.255.254",
            "2a02:6b8::2:242",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(forbidden_reason(ip(addr)), None, "{addr} is public");
        }
    }

    #[test]
    fn the_allow_list_exempts_its_networks_only() {
        let allow = AllowList::parse(&["127.0.0.1".into(), "10.1.0.0/16".into()]).unwrap();
        assert_eq!(allow.vet(ip("127.0.0.1")), Ok(()));
        assert_eq!(allow.vet(ip("10.1.2.3")), Ok(()));
        assert_eq!(
            allow.vet(ip("127.0.0.2")),
            Err("127.0.0.2 is loopback (127.0.0.0/8)".into())
        );
        assert!(
            allow
                .vet(ip("10.2.0.1"))
                .is_err_and(|e| e.contains("private"))
        );
        assert_eq!(
            AllowList::parse(&["10.0.0.0/33".into()]).unwrap_err(),
            "`10.0.0.0/33` is not a CIDR or an IP address"
        );
    }

    #[test]
    fn urls_with_literal_forbidden_hosts_are_refused_in_every_spelling() {
        let none = AllowList::default();
        for url in [
            "http://127.0.0.1/hook",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::ffff:0:127.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.google.internal./",
            "http://localhost:8080/v1/keys",
        ] {
            let err = check_url(url, &none).unwrap_err();
            assert!(err.starts_with("refused: "), "{url}: {err}");
        }
        for (url, why) in [
            ("ftp://example.ru/", "must be http or https"),
            ("file:///etc/passwd", "must be http or https"),
            ("http://user:pw@example.ru/", "must not carry credentials"),
            ("/relative", "not an absolute URL"),
        ] {
            let err = check_url(url, &none).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
        assert_eq!(
            check_url("https://crm.example.ru/hook?x=1", &none)
                .unwrap()
                .as_str(),
            "https://crm.example.ru/hook?x=1"
        );
        let loopback = AllowList::parse(&["127.0.0.0/8".into()]).unwrap();
        assert!(check_url("http://127.0.0.1:9/hook", &loopback).is_ok());
        assert!(check_url("http://localhost:9/hook", &loopback).is_ok());
    }
}
