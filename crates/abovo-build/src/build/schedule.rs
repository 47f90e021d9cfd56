//! Running a plan: up to `jobs` worker threads take the derivations whose
//! inputs are done, in a dependency order; a failure fails everything
//! downstream of it and, without `keep_going`, stops new builds.

use super::{BuildError, BuildReport, Builder, DrvResult, Mode};
use abovo_store::StorePath;
use abovo_store::derivation::Derivation;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Condvar, Mutex};

/// A derivation of the plan: what it is, the planned derivations it
/// waits for, and how it is realised.
pub(super) struct Node {
    pub(super) drv: Derivation,
    pub(super) deps: BTreeSet<StorePath>,
    pub(super) mode: Mode,
}

#[derive(Default)]
struct Schedule {
    waiting_on: BTreeMap<StorePath, usize>,
    ready: VecDeque<StorePath>,
    running: usize,
    stop: bool,
    report: BuildReport,
    done: BTreeSet<StorePath>,
}

impl Builder<'_> {
    pub(super) fn run_plan(
        &self,
        plan: BTreeMap<StorePath, Node>,
        order: Vec<StorePath>,
    ) -> BuildReport {
        let mut dependents: BTreeMap<StorePath, Vec<StorePath>> = BTreeMap::new();
        let mut sched = Schedule::default();
        for (p, n) in &plan {
            sched.waiting_on.insert(p.clone(), n.deps.len());
            for d in &n.deps {
                dependents.entry(d.clone()).or_default().push(p.clone());
            }
        }
        for p in &order {
            if plan[p].deps.is_empty() {
                sched.ready.push_back(p.clone());
            }
        }
        let total = plan.len();
        let state = Mutex::new(sched);
        let wake = Condvar::new();
        let workers = self.opts.jobs.clamp(1, total.max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    self.worker(&plan, &dependents, &state, &wake, total);
                });
            }
        });
        let mut sched = state.into_inner().unwrap_or_else(|p| p.into_inner());
        // Whatever never ran (after a failure without keep_going).
        for p in order {
            if !sched.done.contains(&p) {
                sched.report.results.push((p, DrvResult::Skipped));
            }
        }
        sched.report
    }

    fn worker(
        &self,
        plan: &BTreeMap<StorePath, Node>,
        dependents: &BTreeMap<StorePath, Vec<StorePath>>,
        state: &Mutex<Schedule>,
        wake: &Condvar,
        total: usize,
    ) {
        loop {
            let next = {
                let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if s.done.len() == total || (s.stop && s.running == 0) {
                        wake.notify_all();
                        return;
                    }
                    if !s.stop
                        && let Some(p) = s.ready.pop_front()
                    {
                        s.running += 1;
                        break p;
                    }
                    if s.stop || (s.ready.is_empty() && s.running == 0) {
                        wake.notify_all();
                        return;
                    }
                    s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
                }
            };
            let node = &plan[&next];
            let result = self.realise(&next, &node.drv, node.mode);
            self.reporter.finished(&next, result.is_ok());
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.running -= 1;
            s.done.insert(next.clone());
            match result {
                Ok(r) => {
                    for d in dependents.get(&next).into_iter().flatten() {
                        if let Some(n) = s.waiting_on.get_mut(d) {
                            *n -= 1;
                            if *n == 0 {
                                s.ready.push_back(d.clone());
                            }
                        }
                    }
                    s.report.results.push((next, DrvResult::Done(r)));
                }
                Err(e) => {
                    // Everything downstream of a failure fails with it.
                    let mut todo: Vec<StorePath> =
                        dependents.get(&next).cloned().unwrap_or_default();
                    while let Some(d) = todo.pop() {
                        if s.done.insert(d.clone()) {
                            s.report.results.push((
                                d.clone(),
                                DrvResult::Failed(BuildError::DependencyFailed {
                                    drv: self.store.display(&d),
                                    dependency: self.store.display(&next),
                                }),
                            ));
                            todo.extend(dependents.get(&d).cloned().unwrap_or_default());
                        }
                    }
                    s.report.results.push((next, DrvResult::Failed(e)));
                    if !self.opts.keep_going {
                        s.stop = true;
                    }
                }
            }
            wake.notify_all();
        }
    }
}

/// The plan's derivations, inputs before their dependents, ties broken by
/// path.
pub(super) fn topological(plan: &BTreeMap<StorePath, Node>) -> Vec<StorePath> {
    let mut order = Vec::with_capacity(plan.len());
    let mut seen = BTreeSet::new();
    fn visit(
        p: &StorePath,
        plan: &BTreeMap<StorePath, Node>,
        seen: &mut BTreeSet<StorePath>,
        order: &mut Vec<StorePath>,
    ) {
        if !seen.insert(p.clone()) {
            return;
        }
        for d in &plan[p].deps {
            visit(d, plan, seen, order);
        }
        order.push(p.clone());
    }
    for p in plan.keys() {
        visit(p, plan, &mut seen, &mut order);
    }
    order
}
