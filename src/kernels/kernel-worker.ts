/**
 * @module
 * Piscina entry of the kernel pool: wires a task to {@link runKernelTask} and transfers the result's
 * buffers back. Nothing else lives here (code in worker threads is invisible to coverage).
 */
import { Piscina } from 'piscina';
import { resultOperands, runKernelTask, transferList, type KernelTask } from './kernel-tasks.js';

/** Run one task; the result's buffers move back to the caller instead of being cloned. */
export default function kernelWorker(task: KernelTask): unknown {
  const result = runKernelTask(task);
  return Piscina.move({ [Piscina.transferableSymbol]: transferList(resultOperands(result)), [Piscina.valueSymbol]: result } as never);
}
