/** A copy of `a` with twice the room (the arrays of a listing grow by doubling as it is read). */
export function grown(a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const out = new Float64Array(a.length * 2);
  out.set(a);
  return out;
}
