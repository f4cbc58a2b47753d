// Audio capture for the live mode: every 128-sample block of the input, mixed to mono, with the audio-clock
// time (AudioContext.currentTime) of its first sample, posted to the page.
class MotionkitCapture extends AudioWorkletProcessor {
  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length) {
      const mono = new Float32Array(channels[0].length);
      for (const channel of channels) {
        for (let i = 0; i < mono.length; i++) mono[i] += channel[i] / channels.length;
      }
      this.port.postMessage({ time: currentTime, samples: mono }, [mono.buffer]);
    }
    return true;
  }
}
registerProcessor("motionkit-capture", MotionkitCapture);
