import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Writes the XML documents of S3 responses.
struct S3XMLWriter {
    var text = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"

    /// Opens `<name>`, with the S3 namespace on root elements when asked.
    mutating func open(_ name: String, namespace: Bool = false) {
        text += namespace ? #"<\#(name) xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"# : "<\(name)>"
    }

    mutating func close(_ name: String) { text += "</\(name)>" }

    mutating func element(_ name: String, _ value: String) {
        text += "<\(name)>\(Self.escape(value))</\(name)>"
    }

    mutating func element(_ name: String, _ value: Int) { element(name, String(value)) }
    mutating func element(_ name: String, _ value: Int64) { element(name, String(value)) }
    mutating func element(_ name: String, _ value: Bool) { element(name, value ? "true" : "false") }

    var bytes: [UInt8] { Array(text.utf8) }

    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\r": out += "&#13;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// A tiny element tree read with Foundation's `XMLParser` (request bodies of
/// DeleteObjects and CompleteMultipartUpload).
final class S3XMLElement {
    let name: String
    var text = ""
    var children: [S3XMLElement] = []

    init(name: String) { self.name = name }

    func children(named name: String) -> [S3XMLElement] { children.filter { $0.name == name } }
    func child(named name: String) -> S3XMLElement? { children.first { $0.name == name } }

    /// Parses `bytes`; `nil` when the document is not well-formed.
    static func parse(_ bytes: [UInt8]) -> S3XMLElement? {
        let delegate = TreeBuilder()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = true
        parser.delegate = delegate
        guard parser.parse(), let root = delegate.root else { return nil }
        return root
    }

    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var stack: [S3XMLElement] = []
        var root: S3XMLElement?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            let element = S3XMLElement(name: elementName)
            stack.last?.children.append(element)
            if root == nil { root = element }
            stack.append(element)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?) {
            _ = stack.popLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }
    }
}
