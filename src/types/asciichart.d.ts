// asciichart ships no types; only the one function we call is declared.
declare module 'asciichart' {
  export function plot(series: readonly number[] | readonly (readonly number[])[], config?: { readonly height?: number; readonly format?: (value: number) => string }): string;
}
