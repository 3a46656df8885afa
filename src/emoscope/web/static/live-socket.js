// The browser's camera or a shared screen streamed to /ws/live, one frame in flight at a time (the
// next goes when the last result is back, so latency stays bounded). Used by the live and class pages.
export class LiveSocket {
  constructor(video, { onResult, onError, onClose }) {
    this.video = video;
    this.handlers = { onResult, onError, onClose };
    this.grab = document.createElement("canvas");
    this.socket = null; this.stream = null; this.running = false;
  }

  static camera() { return navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } }); }
  static screen() { return navigator.mediaDevices.getDisplayMedia({ video: true }); }

  async start(getStream) {
    try { this.stream = await getStream(); } catch (error) { this.handlers.onError(`No video: ${error.message}`); return false; }
    this.video.srcObject = this.stream;
    await this.video.play();
    this.socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/live`);
    this.socket.onmessage = (event) => {
      const result = JSON.parse(event.data);
      if (result.error) this.handlers.onError(result.error); else this.handlers.onResult(result, this.grab);
      if (this.running) this.send();
    };
    this.socket.onopen = () => { this.running = true; this.send(); };
    this.socket.onclose = () => { if (this.running) this.stop(); };
    return true;
  }

  // The frame sent last stays in this.grab until its result is handled (thumbnails are cut from it).
  send() {
    const video = this.video;
    if (!this.running || video.videoWidth === 0) { if (this.running) setTimeout(() => this.send(), 50); return; }
    const scale = Math.min(1, 640 / video.videoWidth);
    this.grab.width = Math.round(video.videoWidth * scale); this.grab.height = Math.round(video.videoHeight * scale);
    this.grab.getContext("2d").drawImage(video, 0, 0, this.grab.width, this.grab.height);
    this.grab.toBlob((blob) => blob && this.socket.readyState === WebSocket.OPEN && this.socket.send(blob), "image/jpeg", 0.8);
  }

  stop() {
    const wasRunning = this.running;
    this.running = false;
    this.socket && this.socket.close();
    this.stream && this.stream.getTracks().forEach((t) => t.stop());
    if (wasRunning || this.stream) this.handlers.onClose();
    this.stream = null;
  }
}
