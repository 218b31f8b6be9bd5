export interface TrainDdpOptions {
  readonly module: string;
  readonly inputs: readonly { name: string; dtype: "f32" | "i32"; timed: boolean }[];
  readonly referenceNames: boolean;
}
export function trainDdpScript(o: TrainDdpOptions): string {
  return `# placeholder for ${o.module}\n`;
}
