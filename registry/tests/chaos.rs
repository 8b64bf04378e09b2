//! Chaos switched off by name: it stays off across re-pointing and reloads of the same chaos,
//! and a new experiment starts.

use fusebox_engine::{Chaos, Policy, TransitionReason};
use fusebox_registry::{PolicySource, Registry};

const FILE: &str = "[defaults]\nchaos = { fault_rate = 0.2, seed = 1, until = \"none\" }\n\n\
                    [breakers.\"pay\"]\nmin_calls = 5\n";

fn chaos(seed: u64) -> Chaos {
    Chaos::new().with_fault_rate(0.2).with_seed(seed)
}

#[test]
fn chaos_off_holds_across_reloads_of_the_same_chaos() {
    let registry = Registry::from_toml(FILE).unwrap();
    let pay = registry.breaker("pay").unwrap();
    let other = registry.breaker("other").unwrap();
    assert_eq!(pay.policy().chaos(), Some(&chaos(1)));

    assert!(registry.chaos_off("pay", "admin: stop".into()).unwrap());
    assert_eq!(pay.policy().chaos(), None);
    assert_eq!(pay.policy().min_calls(), 5);
    assert_eq!(
        other.policy().chaos(),
        Some(&chaos(1)),
        "others keep theirs"
    );
    let last = pay.history().pop().unwrap();
    assert_eq!(last.reason, TransitionReason::ChaosOff);
    assert_eq!(last.note.as_deref(), Some("admin: stop"));
    assert_eq!(registry.resolved_policy("pay").unwrap().chaos(), None);
    assert_eq!(registry.policy_source("pay").unwrap(), PolicySource::Own);
    assert_eq!(registry.policies()["pay"].chaos(), Some(&chaos(1)));
    assert_eq!(registry.chaos_switched_off("pay").unwrap(), Some(chaos(1)));

    // Nothing left to switch off.
    assert!(!registry.chaos_off("pay", "again".into()).unwrap());

    // The same file again, or with another key changed: the chaos stays off.
    registry.apply_toml(FILE).unwrap();
    registry
        .apply_toml(&FILE.replace("min_calls = 5", "min_calls = 6"))
        .unwrap();
    assert_eq!(pay.policy().chaos(), None);
    assert_eq!(pay.policy().min_calls(), 6);
    // A new default over it re-points the breaker: still off.
    registry
        .set_default_policy(
            Policy::builder()
                .chaos(chaos(1))
                .min_calls(3)
                .build()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(pay.policy().chaos(), None);

    // Other chaos is another experiment: it starts.
    registry
        .apply_toml(&FILE.replace("seed = 1", "seed = 2"))
        .unwrap();
    assert_eq!(pay.policy().chaos(), Some(&chaos(2)));
    assert_eq!(registry.chaos_switched_off("pay").unwrap(), None);
    // And the first one again, after it: it starts too.
    registry.apply_toml(FILE).unwrap();
    assert_eq!(pay.policy().chaos(), Some(&chaos(1)));
}

#[test]
fn chaos_off_before_the_breaker_exists_applies_when_it_is_made() {
    let registry = Registry::new(Policy::builder().chaos(chaos(3)).build().unwrap());
    assert!(registry.chaos_off("later", "admin".into()).unwrap());
    assert_eq!(registry.breaker("later").unwrap().policy().chaos(), None);
    assert_eq!(
        registry.breaker("sibling").unwrap().policy().chaos(),
        Some(&chaos(3))
    );
    // Dropping chaos from the policy ends the switch; setting it again starts it.
    registry.set_default_policy(Policy::default()).unwrap();
    assert_eq!(registry.chaos_switched_off("later").unwrap(), None);
    registry
        .set_default_policy(Policy::builder().chaos(chaos(3)).build().unwrap())
        .unwrap();
    assert_eq!(
        registry.breaker("later").unwrap().policy().chaos(),
        Some(&chaos(3))
    );
    assert!(registry.chaos_off("bad..name", "admin".into()).is_err());
}
