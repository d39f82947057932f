#include "consensus/failure_detector.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "consensus/scheduler.h"

namespace supernet::consensus {
namespace {

// Runs ticks every 10 ms from `from` to `to`, with `beat(t)` deciding whether the peer is heard
// at t; returns the first time the peer was reported suspected (or -1).
template <typename Beat>
TimeMs run(FailureDetector& d, NodeId peer, TimeMs from, TimeMs to, Beat beat) {
  TimeMs first = -1;
  for (TimeMs t = from; t < to; t += 10) {
    if (beat(t)) d.heard(peer, t);
    for (const auto& c : d.tick(t)) {
      if (c.peer == peer && c.suspected && first < 0) first = t;
    }
  }
  return first;
}

TEST(FailureDetector, JitteryHeartbeatsAreNeverSuspectedAndSilenceIsWithinTwoSeconds) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 20; trial++) {
    FailureDetector d;
    d.watch(2, 0);
    // Heartbeats every 200 ms +- 80 ms for ten minutes, now and then one lost.
    TimeMs next = 200;
    auto beat = [&](TimeMs t) {
      if (t < next) return false;
      next = t + 120 + static_cast<TimeMs>(rng() % 161);
      return rng() % 10 != 0;
    };
    ASSERT_EQ(run(d, 2, 0, 600000, beat), -1) << "trial " << trial;
    // Then it dies: suspected after the acceptable pause, within 2 s.
    TimeMs suspected = run(d, 2, 600000, 610000, [](TimeMs) { return false; });
    ASSERT_GE(suspected, 0);
    TimeMs after = suspected - 600000;
    EXPECT_GT(after, 700);
    EXPECT_LT(after, 2000);
  }
}

TEST(FailureDetector, ABusyLinkThatGoesSilentIsSuspectedWithinTwoSeconds) {
  FailureDetector d;
  d.watch(3, 0);
  ASSERT_EQ(run(d, 3, 0, 30000, [](TimeMs) { return true; }), -1);  // a frame every tick
  EXPECT_EQ(d.samples(3), d.config().window);                        // the history is bounded
  TimeMs suspected = run(d, 3, 30000, 40000, [](TimeMs) { return false; });
  ASSERT_GE(suspected, 0);
  EXPECT_LT(suspected - 30000, 2000);
  EXPECT_GT(suspected - 30000, 500);
}

TEST(FailureDetector, APeerNeverHeardFromIsSuspectedAndOneHeardAgainIsTrusted) {
  FailureDetector d;
  d.watch(4, 1000);
  EXPECT_FALSE(d.suspected(4, 1500));
  TimeMs suspected = run(d, 4, 1000, 5000, [](TimeMs) { return false; });
  ASSERT_GE(suspected, 0);
  EXPECT_LT(suspected - 1000, 2000);
  d.heard(4, 5000);
  auto changes = d.tick(5010);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].peer, 4u);
  EXPECT_FALSE(changes[0].suspected);
  EXPECT_FALSE(d.suspected(4, 5010));
  // Unwatched peers are never suspected, and what they send is ignored.
  d.heard(9, 5000);
  EXPECT_FALSE(d.watching(9));
  EXPECT_EQ(d.phi(9, 100000), 0);
  d.forget(4);
  EXPECT_FALSE(d.suspected(4, 100000));
}

TEST(FailureDetector, AnOutageIsNotLearntSoTheNextFailureIsStillFoundInTwoSeconds) {
  FailureDetector d;
  d.watch(2, 0);
  // A few heartbeats, then a partition of 900 ms, again and again: as much outage as rhythm.
  TimeMs t = 0;
  for (int i = 0; i < 20; i++) {
    for (int k = 0; k < 3; k++) d.heard(2, t += 200);
    d.heard(2, t += 900);
  }
  TimeMs suspected = run(d, 2, t, t + 10000, [](TimeMs) { return false; });
  ASSERT_GE(suspected, 0);
  EXPECT_LT(suspected - t, 2000);
}

TEST(FailureDetector, ThePhiOfSilenceOnlyGrows) {
  FailureDetector d;
  d.watch(2, 0);
  for (TimeMs t = 200; t <= 20000; t += 200) d.heard(2, t);
  double last = -1;
  for (TimeMs t = 20000; t < 30000; t += 7) {
    double f = d.phi(2, t);
    EXPECT_GE(f, last) << t;
    last = f;
  }
  EXPECT_GE(last, d.config().threshold);
}

TEST(FailureDetector, TheObserversOwnStallIsNotTheirFault) {
  FailureDetector d;
  d.watch(2, 0);
  d.watch(3, 0);
  for (TimeMs t = 0; t < 10000; t += 10) {
    if (t % 200 == 0) d.heard(2, t);
    if (t % 200 == 100) d.heard(3, t);
    ASSERT_TRUE(d.tick(t).empty()) << t;
  }
  // This node's thread stops for 5 s (no ticks, nothing read); then both peers' frames, which
  // waited in its socket, arrive on the next ticks.
  auto changes = d.tick(15000);
  EXPECT_TRUE(changes.empty());
  d.heard(2, 15010);
  d.heard(3, 15010);
  EXPECT_TRUE(d.tick(15010).empty());
  EXPECT_FALSE(d.suspected(2, 15010));
}

TEST(Scheduler, AHealthyOwnerKeepsItsTaskOtherwiseTheNextHealthyCandidate) {
  std::set<NodeId> down;
  Scheduler s([&](NodeId n) { return !down.count(n); });
  Task t{"job", {3, 1, 2, 4}, std::nullopt};
  EXPECT_EQ(s.assign(t), 3u);  // no owner yet: the first candidate
  t.owner = 2;
  EXPECT_EQ(s.assign(t), 2u);  // a healthy owner keeps it
  down = {2};
  EXPECT_EQ(s.assign(t), 4u);  // the next after the owner
  down = {2, 4};
  EXPECT_EQ(s.assign(t), 3u);  // wrapping around
  EXPECT_EQ(s.assign(t, 1), 1u);  // one pass further along the healthy ones
  EXPECT_EQ(s.assign(t, 2), 3u);
  down = {1, 2, 3, 4};
  EXPECT_EQ(s.assign(t), 0u);  // nobody healthy
  down = {};
  t.owner = 9;  // an owner that is no candidate (removed): from the start
  EXPECT_EQ(s.assign(t), 3u);
  EXPECT_EQ(s.assign(Task{"none", {}, std::nullopt}), 0u);
  Task big{"big", {}, std::nullopt};
  for (NodeId n = 1; n <= kTaskCandidatesMax + 1; n++) big.candidates.push_back(n);
  EXPECT_EQ(s.assign(big), 0u);  // over the bound
}

}  // namespace
}  // namespace supernet::consensus
