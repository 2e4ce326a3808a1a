//! Retention: raw bodies and documents go after their time; a decision stays.

use crate::helpers::{fresh_database_url, spawn_app};
use kontragent::config::RetentionSettings;
use kontragent::retention::Retention;
use std::sync::Arc;

#[tokio::test]
async fn old_bodies_and_documents_are_pruned_and_decisions_stay() {
    let app = spawn_app().await;
    let check = app.check("7701000040").await;
    let id: uuid::Uuid = check["id"].as_str().unwrap().parse().unwrap();
    let store = Arc::clone(app.app.store());
    let inn = kontragent::domain::Inn::parse("7701000040").unwrap();
    assert!(
        !store.evidence_for("pb", &inn).await.unwrap()[0]
            .body
            .is_empty()
    );
    let metrics = Arc::new(kontragent::metrics::Metrics::default());
    let retention = |evidence_days, checks_days| {
        Retention::new(
            Arc::clone(&store),
            Arc::clone(app.app.documents()),
            RetentionSettings {
                evidence_days,
                checks_days,
                tick_s: 60,
            },
            Arc::clone(&metrics),
        )
    };
    let later = chrono::Utc::now() + chrono::Duration::days(400);

    // Off (0 days): nothing goes, however old.
    let pruned = retention(0, 0).pass_at(later).await.unwrap().unwrap();
    assert_eq!((pruned.evidence, pruned.checks), (0, 0));
    // Younger than the limit: nothing goes.
    let pruned = retention(500, 500).pass_at(later).await.unwrap().unwrap();
    assert_eq!((pruned.evidence, pruned.checks), (0, 0));

    let pruned = retention(365, 365).pass_at(later).await.unwrap().unwrap();
    assert!(pruned.evidence > 0);
    assert_eq!(pruned.checks, 1);
    let evidence = store.evidence_for("pb", &inn).await.unwrap();
    assert!(evidence.iter().all(|e| e.body.is_empty()), "bodies emptied");
    assert!(evidence.iter().all(|e| e.sha256.len() == 64), "hashes kept");
    let row = store.get_check(id).await.unwrap().unwrap();
    assert_eq!(row.decision.as_deref(), Some("reject"));
    assert!(row.facts.is_none());
    let document: serde_json::Value = serde_json::from_str(&row.document).unwrap();
    assert!(document.get("company").is_none());
    assert_eq!(document["reasons"], {
        let mut reasons = check["reasons"].clone();
        for r in reasons.as_array_mut().unwrap() {
            r["inputs"] = serde_json::json!([]);
        }
        reasons
    });
    // The instance had the whole check in memory; it now serves the pruned one.
    let served: serde_json::Value = app
        .get(&format!("/v1/checks/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(served.get("company").is_none(), "{served}");
    assert_eq!(served["decision"], "reject");
    // A second pass finds nothing left to do, and the sizes reach /metrics.
    let pruned = retention(365, 365).pass_at(later).await.unwrap().unwrap();
    assert_eq!((pruned.evidence, pruned.checks), (0, 0));
    let text = metrics.render("");
    assert!(
        text.contains("kontragent_storage{what=\"evidence_bytes\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("kontragent_storage{what=\"checks\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn one_instance_prunes_at_a_time() {
    // A bare store, no app: an app's own retention worker would race for the lease.
    let store = kontragent::storage::connect(&fresh_database_url().await, 2)
        .await
        .unwrap();
    let documents = Arc::new(kontragent::cache::DocumentCache::new(
        &kontragent::config::Settings::default(),
    ));
    let metrics = Arc::new(kontragent::metrics::Metrics::default());
    let settings = RetentionSettings {
        evidence_days: 1,
        checks_days: 1,
        tick_s: 60,
    };
    let a = Retention::new(
        Arc::clone(&store),
        Arc::clone(&documents),
        settings.clone(),
        Arc::clone(&metrics),
    );
    let b = Retention::new(Arc::clone(&store), documents, settings, metrics);
    let now = chrono::Utc::now();
    // Another instance holds the lease (its pass is running): `b` skips; once it is given
    // up, `a` runs.
    assert!(
        store
            .claim_fetch(
                "retention",
                kontragent::retention::LEASE,
                "someone-else",
                now,
                now + chrono::Duration::minutes(1)
            )
            .await
            .unwrap()
    );
    assert_eq!(b.pass_at(now).await.unwrap(), None);
    store
        .release_fetch("retention", kontragent::retention::LEASE, "someone-else")
        .await
        .unwrap();
    assert!(a.pass_at(now).await.unwrap().is_some());
}
