// How the call's connection is doing, from the peer connection's own statistics: round-trip
// time of the selected candidate pair, the share of incoming video packets lost, and the frame
// rate received. Polled every few seconds; `onChange` hears a new level (good / fair / poor)
// only when it changes, so a screen reader is not told the same thing again and again.

const EVERY_MS = 2000;

export function classify({ rtt, loss, fps }) {
  if (rtt === null && loss === null) return "unknown";
  if ((rtt !== null && rtt > 0.6) || (loss !== null && loss > 0.08) || (fps !== null && fps < 8)) return "poor";
  if ((rtt !== null && rtt > 0.3) || (loss !== null && loss > 0.02) || (fps !== null && fps < 20)) return "fair";
  return "good";
}

export class QualityMeter {
  constructor(pc, onChange) {
    this.pc = pc;
    this.onChange = onChange;
    this.level = null;
    this.last = null; // {lost, received} of the previous poll
    this.timer = null;
  }

  start() {
    this.timer = setInterval(() => this.poll().catch(() => {}), EVERY_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  async poll() {
    const stats = await this.pc.getStats();
    let rtt = null;
    let fps = null;
    let lost = 0;
    let received = 0;
    stats.forEach((s) => {
      if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded"
          && typeof s.currentRoundTripTime === "number") rtt = s.currentRoundTripTime;
      if (s.type === "inbound-rtp" && s.kind === "video") {
        lost += s.packetsLost || 0;
        received += s.packetsReceived || 0;
        if (typeof s.framesPerSecond === "number") fps = s.framesPerSecond;
      }
    });
    let loss = null;
    if (this.last) {
      const newLost = lost - this.last.lost;
      const newReceived = received - this.last.received;
      if (newLost + newReceived > 0) loss = Math.max(0, newLost) / (newLost + newReceived);
    }
    this.last = { lost, received };
    const figures = { rtt, loss, fps };
    const level = classify(figures);
    if (level !== this.level) {
      this.level = level;
      this.onChange(level, figures);
    }
    return figures;
  }
}
