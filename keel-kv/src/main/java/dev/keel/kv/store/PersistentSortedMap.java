package dev.keel.kv.store;

import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.function.BiConsumer;

/**
 * An immutable sorted map: every update returns a new map that shares all untouched nodes with the
 * old one (an AVL tree with path copying). An update allocates O(log n) nodes (about 20 for a
 * million keys); taking a point-in-time view is free, which is what lets {@link KvStateMachine}
 * hand a snapshot writer the state as of one index while applies go on.
 *
 * <p>Thread safety: instances are immutable and may be read from any thread once published
 * (through a volatile or final field).
 *
 * <p>Invariant (checked by {@link #checkInvariants()} in tests): for every node, keys in the left
 * subtree are smaller and keys in the right subtree larger; {@code height = 1 + max(child heights)};
 * child heights differ by at most 1; {@code size = 1 + child sizes}.
 */
public final class PersistentSortedMap<K, V> implements Iterable<Map.Entry<K, V>> {

    private record Node<K, V>(K key, V value, Node<K, V> left, Node<K, V> right, int height, int size)
            implements Map.Entry<K, V> {
        @Override
        public K getKey() {
            return key;
        }

        @Override
        public V getValue() {
            return value;
        }

        @Override
        public V setValue(V v) {
            throw new UnsupportedOperationException("immutable");
        }
    }

    private final Comparator<? super K> comparator;
    private final Node<K, V> root;

    private PersistentSortedMap(Comparator<? super K> comparator, Node<K, V> root) {
        this.comparator = comparator;
        this.root = root;
    }

    public static <K, V> PersistentSortedMap<K, V> empty(Comparator<? super K> comparator) {
        return new PersistentSortedMap<>(comparator, null);
    }

    /**
     * Builds a balanced map in O(n) from entries already in strictly increasing key order (as a
     * snapshot stores them). Throws if the order is wrong, since that means a corrupt input.
     */
    public static <K, V> PersistentSortedMap<K, V> fromSorted(Comparator<? super K> comparator, List<K> keys,
                                                              List<V> values) {
        if (keys.size() != values.size()) {
            throw new IllegalArgumentException("keys " + keys.size() + " != values " + values.size());
        }
        for (int i = 1; i < keys.size(); i++) {
            if (comparator.compare(keys.get(i - 1), keys.get(i)) >= 0) {
                throw new IllegalArgumentException("keys not strictly increasing at position " + i);
            }
        }
        return new PersistentSortedMap<>(comparator, build(keys, values, 0, keys.size()));
    }

    private static <K, V> Node<K, V> build(List<K> keys, List<V> values, int from, int to) {
        if (from >= to) return null;
        int mid = (from + to) >>> 1;
        Node<K, V> l = build(keys, values, from, mid);
        Node<K, V> r = build(keys, values, mid + 1, to);
        return node(keys.get(mid), values.get(mid), l, r);
    }

    public int size() {
        return root == null ? 0 : root.size;
    }

    public boolean isEmpty() {
        return root == null;
    }

    public Comparator<? super K> comparator() {
        return comparator;
    }

    /** The value for {@code key}, or null. */
    public V get(K key) {
        Node<K, V> n = root;
        while (n != null) {
            int c = comparator.compare(key, n.key);
            if (c == 0) return n.value;
            n = c < 0 ? n.left : n.right;
        }
        return null;
    }

    public boolean containsKey(K key) {
        return get(key) != null;
    }

    /** The entry with the smallest key, or null when empty. */
    public Map.Entry<K, V> first() {
        Node<K, V> n = root;
        if (n == null) return null;
        while (n.left != null) n = n.left;
        return n;
    }

    /** A map with {@code key} bound to {@code value} (which must not be null). */
    public PersistentSortedMap<K, V> put(K key, V value) {
        if (key == null || value == null) throw new NullPointerException("null key or value");
        return new PersistentSortedMap<>(comparator, put(root, key, value));
    }

    /** A map without {@code key}; this map itself when the key is absent. */
    public PersistentSortedMap<K, V> remove(K key) {
        if (get(key) == null) return this;
        return new PersistentSortedMap<>(comparator, remove(root, key));
    }

    private Node<K, V> put(Node<K, V> n, K key, V value) {
        if (n == null) return node(key, value, null, null);
        int c = comparator.compare(key, n.key);
        if (c == 0) return new Node<>(key, value, n.left, n.right, n.height, n.size);
        if (c < 0) return balance(n.key, n.value, put(n.left, key, value), n.right);
        return balance(n.key, n.value, n.left, put(n.right, key, value));
    }

    private Node<K, V> remove(Node<K, V> n, K key) {
        // Precondition: key is present (checked by the public remove).
        int c = comparator.compare(key, n.key);
        if (c < 0) return balance(n.key, n.value, remove(n.left, key), n.right);
        if (c > 0) return balance(n.key, n.value, n.left, remove(n.right, key));
        if (n.left == null) return n.right;
        if (n.right == null) return n.left;
        Node<K, V> successor = n.right;
        while (successor.left != null) successor = successor.left;
        return balance(successor.key, successor.value, n.left, removeMin(n.right));
    }

    private Node<K, V> removeMin(Node<K, V> n) {
        if (n.left == null) return n.right;
        return balance(n.key, n.value, removeMin(n.left), n.right);
    }

    private static int height(Node<?, ?> n) {
        return n == null ? 0 : n.height;
    }

    private static int size(Node<?, ?> n) {
        return n == null ? 0 : n.size;
    }

    private static <K, V> Node<K, V> node(K key, V value, Node<K, V> left, Node<K, V> right) {
        return new Node<>(key, value, left, right, 1 + Math.max(height(left), height(right)),
                1 + size(left) + size(right));
    }

    /** Rebuilds a node whose children's heights differ by at most 2, restoring the AVL balance. */
    private static <K, V> Node<K, V> balance(K key, V value, Node<K, V> left, Node<K, V> right) {
        int diff = height(left) - height(right);
        if (diff > 1) {
            if (height(left.left) >= height(left.right)) {
                return node(left.key, left.value, left.left, node(key, value, left.right, right));
            }
            Node<K, V> lr = left.right;
            return node(lr.key, lr.value, node(left.key, left.value, left.left, lr.left), node(key, value, lr.right, right));
        }
        if (diff < -1) {
            if (height(right.right) >= height(right.left)) {
                return node(right.key, right.value, node(key, value, left, right.left), right.right);
            }
            Node<K, V> rl = right.left;
            return node(rl.key, rl.value, node(key, value, left, rl.left), node(right.key, right.value, rl.right, right.right));
        }
        return node(key, value, left, right);
    }

    /** All entries in key order. */
    @Override
    public Iterator<Map.Entry<K, V>> iterator() {
        return iterator(null);
    }

    /** Entries with keys at or above {@code fromKey} (all when null), in key order. */
    public Iterator<Map.Entry<K, V>> iterator(K fromKey) {
        ArrayDeque<Node<K, V>> stack = new ArrayDeque<>();
        Node<K, V> n = root;
        while (n != null) {
            if (fromKey == null || comparator.compare(fromKey, n.key) <= 0) {
                stack.push(n);
                n = n.left;
            } else {
                n = n.right;
            }
        }
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return !stack.isEmpty();
            }

            @Override
            public Map.Entry<K, V> next() {
                if (stack.isEmpty()) throw new NoSuchElementException();
                Node<K, V> top = stack.pop();
                for (Node<K, V> c = top.right; c != null; c = c.left) stack.push(c);
                return top;
            }
        };
    }

    public void forEach(BiConsumer<? super K, ? super V> action) {
        forEach(root, action);
    }

    private static <K, V> void forEach(Node<K, V> n, BiConsumer<? super K, ? super V> action) {
        // Recursion depth is the tree height, at most about 1.44 log2(n): 45 for a billion keys.
        while (n != null) {
            forEach(n.left, action);
            action.accept(n.key, n.value);
            n = n.right;
        }
    }

    /** Checks the AVL and ordering invariants; for tests. Throws IllegalStateException with the values. */
    public void checkInvariants() {
        check(root, null, null);
    }

    private void check(Node<K, V> n, K lower, K upper) {
        if (n == null) return;
        if (lower != null && comparator.compare(n.key, lower) <= 0) {
            throw new IllegalStateException("key " + n.key + " not above lower bound " + lower);
        }
        if (upper != null && comparator.compare(n.key, upper) >= 0) {
            throw new IllegalStateException("key " + n.key + " not below upper bound " + upper);
        }
        check(n.left, lower, n.key);
        check(n.right, n.key, upper);
        int expectedHeight = 1 + Math.max(height(n.left), height(n.right));
        if (n.height != expectedHeight) {
            throw new IllegalStateException("height " + n.height + " != " + expectedHeight + " at " + n.key);
        }
        if (Math.abs(height(n.left) - height(n.right)) > 1) {
            throw new IllegalStateException("unbalanced at " + n.key + ": " + height(n.left) + " vs " + height(n.right));
        }
        if (n.size != 1 + size(n.left) + size(n.right)) {
            throw new IllegalStateException("size " + n.size + " wrong at " + n.key);
        }
    }
}
