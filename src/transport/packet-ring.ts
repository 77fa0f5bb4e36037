/**
 * @module
 * A single-producer single-consumer ring of frames (msgpack packet batches) in a SharedArrayBuffer,
 * one per ordered pair of hosts, preallocated once and reused for the cluster's life. The layout is
 * named in `protocol.ts` (RING_*). The writer publishes a frame by storing `head` after the bytes
 * (Atomics.store: everything written before it is visible to a reader that loads `head`); the
 * reader frees it by storing `tail`. A frame never wraps; a full ring is the caller's back pressure.
 */
import { fail } from '../errors.js';
import { RING_FRAME_HEADER_BYTES, RING_HEAD, RING_HEADER_BYTES, RING_TAIL, RING_WRAP } from './protocol.js';

const pad8 = (n: number): number => (n + 7) & ~7;

export class PacketRing {
  private readonly header: Int32Array;
  /** The ring's data: frames are written and read in place at the offsets {@link reserve} and {@link next} give. */
  readonly data: Uint8Array;
  private readonly words: Int32Array;
  private readonly mask: number;
  /** Bytes the frame returned by the last {@link peek} occupies (released by {@link release}). */
  private pendingBytes = 0;
  /** Length of the frame found by the last {@link next}, bytes. */
  frameLength = 0;
  /** Bytes the head moves by when the frame of the last {@link reserve} is committed (0: none reserved). */
  private reservedBytes = 0;

  /** Bytes a ring with `dataBytes` of data needs in its buffer. */
  static byteLength(dataBytes: number): number {
    return RING_HEADER_BYTES + dataBytes;
  }

  /** A view of the ring at `byteOffset` of `buffer` (`dataBytes`: a power of two >= 64). */
  constructor(buffer: SharedArrayBuffer, byteOffset: number, readonly dataBytes: number) {
    if (!(dataBytes >= 64 && (dataBytes & (dataBytes - 1)) === 0)) throw new RangeError(`ring size ${dataBytes} must be a power of two >= 64`);
    this.header = new Int32Array(buffer, byteOffset, RING_HEADER_BYTES >> 2);
    this.data = new Uint8Array(buffer, byteOffset + RING_HEADER_BYTES, dataBytes);
    this.words = new Int32Array(buffer, byteOffset + RING_HEADER_BYTES, dataBytes >> 2);
    this.mask = dataBytes - 1;
  }

  /** Largest frame the ring takes (half its data, so a wrap never blocks a frame that fits). */
  get maxFrameBytes(): number {
    return (this.dataBytes >> 1) - RING_FRAME_HEADER_BYTES;
  }

  /** Bytes written and not yet consumed. */
  get usedBytes(): number {
    return (Atomics.load(this.header, RING_HEAD) - Atomics.load(this.header, RING_TAIL)) | 0;
  }

  /** Bytes the reader has freed so far, as a running int32 count: it moves whenever the reader frees room. */
  get consumed(): number {
    return Atomics.load(this.header, RING_TAIL);
  }

  /** Whether a frame of `len` bytes fits now (the writer's view: the reader only frees room). */
  fits(len: number): boolean {
    const head = Atomics.load(this.header, RING_HEAD);
    const used = (head - Atomics.load(this.header, RING_TAIL)) | 0;
    const pos = head & this.mask;
    const size = RING_FRAME_HEADER_BYTES + pad8(len);
    const skip = pos + size > this.dataBytes ? this.dataBytes - pos : 0;
    return used + skip + size <= this.dataBytes;
  }

  /** Append one frame; false (nothing written) when the ring has no room for it now. */
  tryWrite(bytes: Uint8Array): boolean {
    const at = this.reserve(bytes.length);
    if (at < 0) return false;
    this.data.set(bytes, at);
    this.commit();
    return true;
  }

  /**
   * Room for a frame of `len` bytes, to be written in place: the offset in {@link data} where its
   * bytes go, or -1 (nothing reserved) when the ring has no room for it now. The reader sees it
   * once {@link commit} publishes it; nothing else may be written before.
   */
  reserve(len: number): number {
    if (len > this.maxFrameBytes) throw new RangeError(`frame of ${len} B exceeds the ring's ${this.maxFrameBytes} B limit`);
    const head = Atomics.load(this.header, RING_HEAD);
    const used = (head - Atomics.load(this.header, RING_TAIL)) | 0;
    const pos = head & this.mask;
    const size = RING_FRAME_HEADER_BYTES + pad8(len);
    const skip = pos + size > this.dataBytes ? this.dataBytes - pos : 0;
    if (used + skip + size > this.dataBytes) return -1;
    if (skip > 0) this.words[pos >> 2] = RING_WRAP;
    const at = skip > 0 ? 0 : pos;
    this.words[at >> 2] = len;
    this.reservedBytes = skip + size;
    return at + RING_FRAME_HEADER_BYTES;
  }

  /** Publish the frame of the last {@link reserve}, its bytes written. */
  commit(): void {
    // After the bytes: the reader sees the frame only once it is complete.
    Atomics.store(this.header, RING_HEAD, (Atomics.load(this.header, RING_HEAD) + this.reservedBytes) | 0);
    this.reservedBytes = 0;
  }

  /**
   * The next frame, as a view into the ring (valid until {@link release}), or null when empty.
   * A corrupt length rejects with `E_PACKET`.
   */
  peek(): Uint8Array | null {
    const at = this.next();
    return at < 0 ? null : this.data.subarray(at, at + this.frameLength);
  }

  /**
   * The next frame, read in place: the offset of its bytes in {@link data} (valid until
   * {@link release}; its length in {@link frameLength}), or -1 when empty. A corrupt length rejects
   * with `E_PACKET`.
   */
  next(): number {
    let tail = Atomics.load(this.header, RING_TAIL);
    const head = Atomics.load(this.header, RING_HEAD);
    if (head === tail) return -1;
    let pos = tail & this.mask;
    let len = this.words[pos >> 2]!;
    if (len === RING_WRAP) {
      tail = (tail + this.dataBytes - pos) | 0;
      Atomics.store(this.header, RING_TAIL, tail);
      if (head === tail) return -1;
      pos = 0;
      len = this.words[0]!;
    }
    if (!(len >= 0 && len <= this.maxFrameBytes && ((head - tail) | 0) >= RING_FRAME_HEADER_BYTES + pad8(len)))
      fail('E_PACKET', `packet ring: frame length ${len} at offset ${pos} is not a valid frame`, { field: 'frameLength', value: len });
    this.pendingBytes = RING_FRAME_HEADER_BYTES + pad8(len);
    this.frameLength = len;
    return pos + RING_FRAME_HEADER_BYTES;
  }

  /**
   * Free every frame written, valid or not (the reader's side; the writer must not be writing: a
   * failed run's packets, dropped). True when there was any.
   */
  discardAll(): boolean {
    const head = Atomics.load(this.header, RING_HEAD);
    const any = head !== Atomics.load(this.header, RING_TAIL);
    Atomics.store(this.header, RING_TAIL, head);
    this.pendingBytes = 0;
    return any;
  }

  /** Free the frame returned by the last {@link peek}. */
  release(): void {
    Atomics.store(this.header, RING_TAIL, (Atomics.load(this.header, RING_TAIL) + this.pendingBytes) | 0);
    this.pendingBytes = 0;
  }
}
